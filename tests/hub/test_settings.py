import pytest
from sqlalchemy.engine import make_url

from core.errors import ConfigError
from hub.settings import load_settings

PG_URL = "postgresql+psycopg://memberhub@postgres:5432/memberhub"


@pytest.fixture
def password_file(tmp_path, monkeypatch):
    path = tmp_path / "db_password"
    monkeypatch.setenv("HUB_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("HUB_DATABASE_URL", PG_URL)
    monkeypatch.setenv("HUB_DATABASE_PASSWORD_FILE", str(path))
    return path


def test_the_password_file_completes_the_database_url(password_file):
    password_file.write_text("s3cr/t@:+=\n", encoding="utf-8")  # a generated password, characters URLs escape

    url = make_url(load_settings().database_url)

    assert (url.username, url.password, url.host, url.database) == ("memberhub", "s3cr/t@:+=", "postgres", "memberhub")


def test_without_a_password_file_the_url_is_taken_as_it_is(password_file, monkeypatch):
    monkeypatch.delenv("HUB_DATABASE_PASSWORD_FILE")

    assert load_settings().database_url == PG_URL


def test_the_settings_repr_never_shows_the_password(password_file):
    password_file.write_text("hunter2", encoding="utf-8")

    assert "hunter2" not in repr(load_settings())


def test_a_missing_password_file_is_refused_naming_the_variable(password_file):
    with pytest.raises(ConfigError, match=r"^HUB_DATABASE_PASSWORD_FILE: .*db_password cannot be read"):
        load_settings()


def test_an_empty_password_file_is_refused(password_file):
    password_file.write_text("\n", encoding="utf-8")

    with pytest.raises(ConfigError, match="is empty"):
        load_settings()


def test_a_url_holding_a_password_of_its_own_is_refused(password_file, monkeypatch):
    password_file.write_text("from-the-file", encoding="utf-8")
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+psycopg://memberhub:inline@postgres/memberhub")

    with pytest.raises(ConfigError, match="keep one") as refused:
        load_settings()

    assert "inline" not in str(refused.value)


def test_plugin_modules_are_read_from_the_environment_and_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_HOME", str(tmp_path))
    monkeypatch.setenv("HUB_PLUGIN_MODULES", " acme.connectors.pos , bench.ingest_source,")
    assert load_settings().plugins == ("acme.connectors.pos", "bench.ingest_source")
    monkeypatch.setenv("HUB_PLUGIN_MODULES", "acme;rm -rf")
    with pytest.raises(ConfigError, match="HUB_PLUGIN_MODULES: 'acme;rm -rf' is not a module name"):
        load_settings()
