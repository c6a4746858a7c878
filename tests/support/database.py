"""Which database the suite runs on (CLIENTELA_TEST_DB), and the tables kept between tests."""
from __future__ import annotations

import os

TEST_DB = os.environ.get("CLIENTELA_TEST_DB", "sqlite")
KEEP_TABLES = {"ab_permission", "ab_view_menu", "ab_permission_view", "ab_role", "ab_permission_view_role"}


def is_postgres() -> bool:
    return TEST_DB != "sqlite"
