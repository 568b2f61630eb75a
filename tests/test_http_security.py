"""CSRF protection and login rate limiting, with both switched on as in production."""

from __future__ import annotations

import re

import pytest

from renewal_reminder.models import Domain
from tests.conftest import PASSWORD


@pytest.fixture
def app_config(app_config):
    app_config.update(
        WTF_CSRF_ENABLED=True,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
        AUTH_RATE_LIMIT="5 per minute",
    )
    return app_config


def csrf_token(client, url: str) -> str:
    html = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def login_with_token(client, username: str, password: str = PASSWORD):
    token = csrf_token(client, "/login/")
    return client.post(
        "/login/", data={"username": username, "password": password, "csrf_token": token}
    )


def test_login_without_csrf_token_is_refused(client, world):
    response = client.post("/login/", data={"username": world.admin.username, "password": PASSWORD})
    assert response.status_code == 400


def test_get_delete_does_not_delete(client, world, session):
    assert login_with_token(client, world.admin.username).status_code == 302
    client.get(f"/domains/delete/{world.d_c1.id}")
    session.expire_all()
    assert session.get(Domain, world.d_c1.id) is not None


def test_post_without_token_is_refused_and_with_token_works(client, world, session):
    login_with_token(client, world.admin.username)
    assert client.post(f"/domains/delete/{world.d_c1.id}").status_code == 400
    session.expire_all()
    assert session.get(Domain, world.d_c1.id) is not None
    token = csrf_token(client, "/domains/list/")
    response = client.post(f"/domains/delete/{world.d_c1.id}", data={"csrf_token": token})
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Domain, world.d_c1.id) is None


def test_bulk_action_needs_the_token(client, world):
    login_with_token(client, world.admin.username)
    response = client.post(
        "/domains/action_post", data={"action": "export_selected", "rowid": [str(world.d_c1.id)]}
    )
    assert response.status_code == 400


def test_login_is_rate_limited(client, world):
    token = csrf_token(client, "/login/")
    statuses = [
        client.post(
            "/login/",
            data={"username": world.admin.username, "password": "wrong-one", "csrf_token": token},
        ).status_code
        for _ in range(7)
    ]
    assert statuses[:5] == [302] * 5  # wrong password: back to the login form
    assert statuses[5:] == [429, 429]
