def test_health_answers_ok(web):
    response = web.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
