"""What tests share: data factories, real servers (SMTP), stand-ins (Stripe), API and portal
helpers. Fixtures here are loaded by `pytest_plugins` in tests/conftest.py; test modules
import helpers from here, never from one another."""
