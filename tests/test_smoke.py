def test_health_answers_ok(web):
    response = web.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_behind_a_trusted_proxy_the_client_ip_comes_from_x_forwarded_for():
    from flask import request

    from app import create_app

    seen = {}
    proxied = create_app("config.TestConfig", SQLALCHEMY_DATABASE_URI="sqlite://", PROXY_FIX_HOPS=1)
    direct = create_app("config.TestConfig", SQLALCHEMY_DATABASE_URI="sqlite://")
    for name, app in (("proxied", proxied), ("direct", direct)):
        @app.get("/whoami")
        def whoami(name=name):
            seen[name] = request.remote_addr
            return ""

        app.test_client().get("/whoami", headers={"X-Forwarded-For": "203.0.113.7"})
    assert seen == {"proxied": "203.0.113.7", "direct": "127.0.0.1"}
