"""hdrive.toml: written for people, read strictly; each mistake reported at file:line + fix."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hdrive_migrate.config import (
    CERTIFICATE_PASSWORD_ENV,
    CLIENT_SECRET_ENV,
    CONFIG_NAME,
    DEFAULT_LOCK_TIMEOUT,
    SMB_PASSWORD_ENV,
    Auth,
    Config,
    GraphSettings,
    is_loopback_host,
    load_config,
    lock_timeout,
    parse_config,
    render_config,
    validate_all,
    write_config,
)
from hdrive_migrate.errors import ConfigError

GUID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
LOCAL = Config(r"\\files01\home", GraphSettings("http://127.0.0.1:8080/v1.0", Auth.LOCAL))


def certificate_settings(cert: Path) -> Config:
    return Config(
        "smb://files01:445/home",
        GraphSettings(
            url="https://graph.microsoft.com",
            auth=Auth.CERTIFICATE,
            tenant_id="contoso.onmicrosoft.com",
            client_id=GUID,
            certificate_path=cert,
            organisation="Contoso Ltd",
        ),
        target_folder="Old H Drive",
    )


def config_error(tmp_path: Path, text: str) -> ConfigError:
    """The mistake in TEXT, whichever section holds it (deferred ones included)."""
    (tmp_path / CONFIG_NAME).write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        validate_all(load_config(tmp_path))
    return caught.value


def test_written_file_loads_back_with_the_url_normalised(tmp_path):
    cert = tmp_path / "app.pem"
    cert.write_text("certificate")
    written = write_config(tmp_path / CONFIG_NAME, certificate_settings(cert))
    loaded = load_config(tmp_path)
    assert loaded == written
    assert loaded.graph.url == "https://graph.microsoft.com/v1.0"
    assert loaded.graph.certificate_path == cert.resolve()
    assert loaded.target_folder == "Old H Drive"


def test_written_file_explains_each_key_and_comments_out_unset_ones(tmp_path):
    write_config(tmp_path / CONFIG_NAME, LOCAL)
    text = (tmp_path / CONFIG_NAME).read_text()
    assert "root = '\\\\files01\\home'" in text  # a literal string: the path reads as typed
    assert '# tenant_id = ""' in text
    assert "# Folder created in each user's OneDrive" in text
    assert load_config(tmp_path).graph.tenant_id is None


def test_secret_from_the_environment_is_never_written(tmp_path, monkeypatch):
    monkeypatch.setenv(CLIENT_SECRET_ENV, "s3cr3t-value")
    settings = Config(
        "/srv/home",
        GraphSettings(
            "https://graph.microsoft.com/v1.0", Auth.SECRET, GUID, GUID, organisation="Contoso"
        ),
    )
    write_config(tmp_path / CONFIG_NAME, settings)
    assert "s3cr3t-value" not in (tmp_path / CONFIG_NAME).read_text()


def test_write_refuses_to_overwrite(tmp_path):
    (tmp_path / CONFIG_NAME).write_text("# mine\n")
    with pytest.raises(ConfigError, match="already exists"):
        write_config(tmp_path / CONFIG_NAME, LOCAL)
    assert (tmp_path / CONFIG_NAME).read_text() == "# mine\n"


def test_write_validates_before_writing(tmp_path):
    bad = Config("/srv/home", GraphSettings("http://graph.example.com", Auth.LOCAL))
    with pytest.raises(ConfigError):
        write_config(tmp_path / CONFIG_NAME, bad)
    assert not (tmp_path / CONFIG_NAME).exists()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://graph.microsoft.com", "https://graph.microsoft.com/v1.0"),
        ("https://graph.microsoft.com/", "https://graph.microsoft.com/v1.0"),
        ("https://graph.microsoft.com/beta/", "https://graph.microsoft.com/beta"),
        ("https://contoso.sharepoint.com/_api/v2.0", "https://contoso.sharepoint.com/_api/v2.0"),
    ],
)
def test_service_root_is_normalised(tmp_path, url, expected):
    text = f"""[source]
root = "/srv/home"
[graph]
url = "{url}"
auth = "managed-identity"
organisation = "Contoso"
"""
    assert parse_config(text, tmp_path / CONFIG_NAME).graph.url == expected


@given(
    root=st.text(min_size=1).filter(lambda s: s.strip() == s and s),
    organisation=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126)).filter(
        lambda s: s.strip() and "|" not in s and s.strip() == s
    ),
)
def test_any_source_root_and_organisation_survive_a_round_trip(root, organisation):
    settings = Config(
        root, GraphSettings("http://127.0.0.1:1/v1.0", Auth.LOCAL, organisation=organisation)
    )
    assert parse_config(render_config(settings), Path(CONFIG_NAME)) == settings


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.9.8.7", True),
        ("::1", True),
        ("[::1]", True),
        ("LocalHost", True),
        ("10.0.0.1", False),
        ("graph.microsoft.com", False),
        ("localhost.contoso.com", False),
        ("127.0.0.1.nip.io", False),
    ],
)
def test_loopback_hosts(host, loopback):
    assert is_loopback_host(host) is loopback


# One test per kind of mistake: each names the file, the line where it can, and the fix.


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / CONFIG_NAME}: no {CONFIG_NAME} in {tmp_path}. Fix: ")
    assert "hdrive-migrate init" in message


def test_toml_syntax_error_names_its_line(tmp_path):
    error = config_error(tmp_path, '[source]\nroot = "/srv/home"\n[graph]\nurl = https://x\n')
    assert str(error).startswith(f"{tmp_path / CONFIG_NAME}:4: not valid TOML: ")
    assert "Fix: " in str(error)


def test_unknown_key_suggests_the_closest_known_key(tmp_path):
    error = config_error(
        tmp_path,
        '[source]\nroot = "/srv/home"\n\n[graph]\nurl = "http://127.0.0.1"\ntenant = "x"\n',
    )
    assert str(error) == (
        f"{tmp_path / CONFIG_NAME}:6: unknown key [graph] tenant. Fix: did you mean tenant_id? "
        "Known keys in [graph]: url, auth, tenant_id, client_id, certificate_path, organisation"
    )


def test_unknown_section_suggests_the_closest_known_section(tmp_path):
    error = config_error(tmp_path, '# settings\n[sorce]\nroot = "/srv/home"\n')
    assert str(error).startswith(
        f"{tmp_path / CONFIG_NAME}:2: unknown section [sorce]. Fix: did you mean [source]?"
    )


def test_key_outside_any_section(tmp_path):
    error = config_error(tmp_path, 'root = "/srv/home"\n')
    assert str(error).startswith(f"{tmp_path / CONFIG_NAME}:1: unknown key root outside any")


def test_value_that_is_not_a_string(tmp_path):
    error = config_error(tmp_path, "[source]\nroot = 5\n")
    assert str(error).startswith(f"{tmp_path / CONFIG_NAME}:2: [source] root must be a string")


def test_missing_key_required_by_the_chosen_auth(tmp_path):
    error = config_error(
        tmp_path,
        f"""[source]
root = "/srv/home"

[graph]
url = "https://graph.microsoft.com/v1.0"
auth = "certificate"
client_id = "{GUID}"
""",
    )
    assert str(error) == (
        f'{tmp_path / CONFIG_NAME}:4: [graph] tenant_id is required for auth = "certificate". '
        "Fix: set tenant_id under [graph]"
    )
    assert error.setting == "graph.tenant_id"


def test_auth_that_is_not_a_choice(tmp_path):
    error = config_error(
        tmp_path,
        """# workspace
[source]
root = "/srv/home"

[graph]
url = "https://graph.microsoft.com/v1.0"
auth = "certifcate"
""",
    )
    assert str(error) == (
        f'{tmp_path / CONFIG_NAME}:7: [graph] auth = "certifcate" is not one of local, '
        'certificate, secret, managed-identity. Fix: did you mean auth = "certificate"?'
    )


def test_local_auth_with_a_url_off_this_machine(tmp_path):
    error = config_error(
        tmp_path,
        '[source]\nroot = "/x"\n[graph]\nurl = "http://graph.example.com"\nauth = "local"\n',
    )
    assert str(error).startswith(f'{tmp_path / CONFIG_NAME}:4: [graph] auth = "local" sends')
    assert "Fix: point url at a local tenant" in str(error)


def test_local_auth_over_plain_http_to_a_loopback_address_the_sdk_will_not_serve(tmp_path):
    error = config_error(
        tmp_path, '[source]\nroot = "/x"\n[graph]\nurl = "http://127.0.0.2:80"\nauth = "local"\n'
    )
    assert str(error).startswith(f"{tmp_path / CONFIG_NAME}:4: [graph] url = ")
    assert "the Graph SDK refuses to send a token" in str(error)


def test_real_auth_over_plain_http(tmp_path):
    error = config_error(
        tmp_path,
        '[source]\nroot = "/x"\n[graph]\nurl = "http://graph.microsoft.com"\n'
        'auth = "managed-identity"\norganisation = "Contoso"\n',
    )
    assert str(error).startswith(f"{tmp_path / CONFIG_NAME}:4: [graph] url = ")
    assert str(error).endswith("Fix: use an https:// URL")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('url = "ftp://graph.microsoft.com"', "is not an http(s) service root"),
        ('url = "https://graph.microsoft.com/v1.0?x=1"', "is not an http(s) service root"),
        ('url = "https://graph.microsoft.com:99999"', "is not an http(s) service root"),
        ('tenant_id = "not a tenant"', "is neither a GUID nor a domain name"),
        ('client_id = "1234"', "is not a GUID"),
        ('certificate_path = "missing.pem"', "is not a file"),
        ('organisation = "A|B"', "cannot go in a User-Agent header"),
    ],
)
def test_bad_graph_values(tmp_path, line, message):
    settings = {
        "url": '"https://graph.microsoft.com"',
        "auth": '"secret"',
        "tenant_id": f'"{GUID}"',
        "client_id": f'"{GUID}"',
        "organisation": '"Contoso"',
    }
    key = line.split(" = ")[0]
    settings[key] = line.split(" = ", 1)[1]
    body = "\n".join(f"{k} = {v}" for k, v in settings.items())
    error = config_error(tmp_path, f'[source]\nroot = "/x"\n[graph]\n{body}\n')
    line_number = 4 + list(settings).index(key)
    assert str(error).startswith(f"{tmp_path / CONFIG_NAME}:{line_number}: [graph] {key} = ")
    assert message in str(error)
    assert "Fix: " in str(error)


@pytest.mark.parametrize("folder", ["", "H:Drive", " H Drive", "H Drive.", "a/b"])
def test_target_folder_must_be_a_name_onedrive_accepts(tmp_path, folder):
    error = config_error(
        tmp_path,
        '[source]\nroot = "/x"\n[graph]\nurl = "http://127.0.0.1"\nauth = "local"\n'
        f"[target]\nfolder = '{folder}'\n",
    )
    assert str(error).startswith(f"{tmp_path / CONFIG_NAME}:7: [target] folder = ")


def test_message_is_one_line_even_when_the_value_has_newlines(tmp_path):
    error = config_error(tmp_path, '[graph]\nauth = """cert\nificate"""\n[source]\nroot = "/x"\n')
    assert "\n" not in str(error)


def test_a_notepad_byte_order_mark_is_accepted(tmp_path):
    text = '[source]\nroot = "/srv/home"\n[graph]\nurl = "http://127.0.0.1:9"\nauth = "local"\n'
    (tmp_path / CONFIG_NAME).write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert load_config(tmp_path).source_root == "/srv/home"


# A secret in the file: never "did you mean", always the environment variable, never the value.
SECRETS = [
    ("graph", "client_secret", CLIENT_SECRET_ENV),
    ("graph", "secret", CLIENT_SECRET_ENV),
    ("graph", "certificate_password", CERTIFICATE_PASSWORD_ENV),
    ("graph", "password", CERTIFICATE_PASSWORD_ENV),
    ("source", "smb_password", SMB_PASSWORD_ENV),
    ("source", "Password", SMB_PASSWORD_ENV),
    ("target", "smb_passwd", SMB_PASSWORD_ENV),
]


@pytest.mark.parametrize(("section", "key", "variable"), SECRETS)
def test_a_secret_in_the_file_is_sent_to_its_environment_variable(tmp_path, section, key, variable):
    sections = {"source": 'root = "/srv/home"', "graph": 'url = "http://127.0.0.1:9"', "target": ""}
    sections[section] += f'\n{key} = "Sup3r-secret"'
    text = "".join(f"[{name}]\n{body}\n" for name, body in sections.items())
    line = text.splitlines().index(f'{key} = "Sup3r-secret"') + 1
    error = config_error(tmp_path, text)
    assert str(error) == (
        f"{tmp_path / CONFIG_NAME}:{line}: [{section}] {key} is a secret, and secrets never go "
        f"in {CONFIG_NAME}. Fix: delete it from the file and set {variable} in the environment "
        "of the commands that need it instead"
    )


def test_a_secret_outside_any_section_names_every_variable(tmp_path):
    error = config_error(tmp_path, 'password = "Sup3r-secret"\n[source]\nroot = "/x"\n')
    message = str(error)
    assert message.startswith(f"{tmp_path / CONFIG_NAME}:1: password is a secret")
    assert all(
        v in message for v in (CLIENT_SECRET_ENV, SMB_PASSWORD_ENV, CERTIFICATE_PASSWORD_ENV)
    )
    assert "Sup3r-secret" not in message


def test_a_secret_is_refused_before_anything_else_is_read(tmp_path):
    """Even when only [source] is read, and even before another mistake earlier in the file."""
    text = '[source]\nrute = "/x"\n[graph]\nclient_secret = "Sup3r-secret"\n'
    (tmp_path / CONFIG_NAME).write_text(text)
    with pytest.raises(ConfigError, match=CLIENT_SECRET_ENV):
        load_config(tmp_path)


# [graph] and [plan] matter only to the commands that reach Graph or plan: their mistakes wait.
DEFERRED = {
    "graph": ('[graph]\nurl = "ftp://x"\nauth = "local"\n', "graph", ":6: [graph] url"),
    "graph unknown key": ('[graph]\nurll = "x"\n', "graph", ":6: unknown key [graph] urll"),
    "plan": ('[plan]\nholds = "nowhere.csv"\n', "holds_file", ':6: [plan] holds = "nowhere'),
}


@pytest.mark.parametrize("mistake", DEFERRED)
def test_mistakes_in_graph_and_plan_wait_until_those_settings_are_read(tmp_path, mistake):
    section, field, words = DEFERRED[mistake]
    text = f'[source]\nroot = "/srv/home"\n[scan]\nexclude = ["AppData/**"]\n{section}'
    (tmp_path / CONFIG_NAME).write_text(text)
    config = load_config(tmp_path)
    assert (config.source_root, config.scan_exclude) == ("/srv/home", ("AppData/**",))
    with pytest.raises(ConfigError) as caught:
        getattr(config, field)
    assert str(caught.value).startswith(f"{tmp_path / CONFIG_NAME}{words}")
    with pytest.raises(ConfigError):
        validate_all(config)


def test_mistakes_elsewhere_are_reported_when_the_file_is_read(tmp_path):
    (tmp_path / CONFIG_NAME).write_text('[source]\nroot = "/x"\n[target]\nfolder = "a:b"\n')
    with pytest.raises(ConfigError, match=":4: \\[target\\] folder"):
        load_config(tmp_path)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(None, DEFAULT_LOCK_TIMEOUT), ("", DEFAULT_LOCK_TIMEOUT), ("0", 0), ("2.5", 2.5)],
)
def test_lock_timeout_from_the_environment(value, seconds):
    environ = {} if value is None else {"HDRIVE_LOCK_TIMEOUT": value}
    assert lock_timeout(environ) == seconds


@pytest.mark.parametrize("value", ["abc", "-1", "nan", "inf", "1e9"])
def test_a_lock_timeout_that_is_not_a_sensible_number_of_seconds(value):
    with pytest.raises(ConfigError) as caught:
        lock_timeout({"HDRIVE_LOCK_TIMEOUT": value})
    assert str(caught.value).startswith(f'HDRIVE_LOCK_TIMEOUT: "{value}" is not a number of sec')


MIGRATE_BASE = (
    '[source]\nroot = "/srv/home"\n[graph]\nurl = "http://127.0.0.1:8080/v1.0"\nauth = "local"\n'
)


def test_migrate_settings_default_to_microsofts_published_quotas(tmp_path):
    (tmp_path / CONFIG_NAME).write_text(MIGRATE_BASE, encoding="utf-8")
    settings = load_config(tmp_path).migrate
    assert (settings.quota_ru_per_minute, settings.quota_ru_per_day) == (5_000, 4_800_000)
    assert (settings.concurrency, settings.chunk_mib) == (16, 10)


def test_migrate_settings_are_read_and_round_trip(tmp_path):
    text = MIGRATE_BASE + "[migrate]\nconcurrency = 4\nchunk_mib = 5\nquota_ru_per_day = 1000\n"
    (tmp_path / CONFIG_NAME).write_text(text, encoding="utf-8")
    config = load_config(tmp_path)
    assert (config.migrate.concurrency, config.migrate.chunk_mib) == (4, 5)
    assert config.migrate.quota_ru_per_day == 1000
    assert parse_config(render_config(config), tmp_path / CONFIG_NAME) == config


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("chunk_mib = 60", ":7: [migrate] chunk_mib = 60 is outside 1-59. Fix: write a whole"),
        ("concurrency = 0", ":7: [migrate] concurrency = 0 is outside 1-256. Fix: "),
        ('concurrency = "8"', ":7: [migrate] concurrency must be a whole number, not str. Fix: "),
        ("concurrency = true", ":7: [migrate] concurrency must be a whole number, not bool. "),
        ("chunks = 5", ":7: unknown key [migrate] chunks. Fix: did you mean"),
    ],
)
def test_bad_migrate_settings_name_their_line_and_wait_for_migrate(tmp_path, line, message):
    (tmp_path / CONFIG_NAME).write_text(MIGRATE_BASE + f"[migrate]\n{line}\n", encoding="utf-8")
    config = load_config(tmp_path)  # a read-only command is not blocked by [migrate]
    assert config.source_root == "/srv/home"
    with pytest.raises(ConfigError) as caught:
        config.migrate  # noqa: B018 (reading the setting is what raises)
    assert str(caught.value).startswith(f"{tmp_path / CONFIG_NAME}{message}")


def test_notices_settings_are_read_and_round_trip(tmp_path):
    text = MIGRATE_BASE + (
        '[notices]\nmailbox = "it-migration@force.police.uk"\n'
        'service_desk = "Service desk, 01234 567890"\nreview_by_days = 10\n'
    )
    (tmp_path / CONFIG_NAME).write_text(text, encoding="utf-8")
    config = load_config(tmp_path)
    assert config.notices.mailbox == "it-migration@force.police.uk"
    assert config.notices.service_desk == "Service desk, 01234 567890"
    assert (config.notices.review_by_days, config.notices.messages_per_minute) == (10, 30)
    assert parse_config(render_config(config), tmp_path / CONFIG_NAME) == config


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('mailbox = "it-migration"', ':7: [notices] mailbox = "it-migration" is not a mail'),
        ('service_desk = "  "', ":7: [notices] service_desk is empty. Fix: say who users call"),
        ("review_by_days = 0", ":7: [notices] review_by_days = 0 is outside 1-365. Fix: "),
        ("messages_per_minute = 0", ":7: [notices] messages_per_minute = 0 is outside 1-10,000"),
        ("sender = 'x'", ":7: unknown key [notices] sender. Fix: "),
    ],
)
def test_bad_notices_settings_name_their_line_and_wait_for_notices(tmp_path, line, message):
    (tmp_path / CONFIG_NAME).write_text(MIGRATE_BASE + f"[notices]\n{line}\n", encoding="utf-8")
    config = load_config(tmp_path)
    assert config.source_root == "/srv/home"
    with pytest.raises(ConfigError) as caught:
        config.notices  # noqa: B018 (reading the setting is what raises)
    assert str(caught.value).startswith(f"{tmp_path / CONFIG_NAME}{message}")
