"""The secrets audit: one whole scripted run with real processes and the real Secret Service.

``tootbell account add`` signs in through the browser flow (the stand-in browser below asks
the demo instance to approve at once), ``tootbell push enable`` switches Web Push on, the app
runs as its own process (it polls, and the demo instance pushes to its loopback listener),
``push test``, ``check`` and finally ``account remove`` run as people type them.

First each secret is proven to be in gnome-keyring and to be the live one: the access token,
the OAuth client secret, the push private key and the push auth secret. Then no form of any
of them (raw, base64, base64url with and without padding, hex, percent-encoded; for the EC
key also its scalar as a number, DER and PEM) may appear in any file under TOOTBELL_HOME, in
what any process printed, or in the command line or environment of any process the run
started (sampled from /proc while they ran). After removal none is left in the keyring.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

import pytest
import secretstorage
from cli_run import cli_env
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from desktop_session import BusRecorder, wait_for

from tootbell.demo import DemoServer
from tootbell.secrets import SERVICE

BROWSER = """\
#!{python}
# A stand-in web browser for `tootbell account add`: it keeps a copy of the command line and
# environment of the process that opened it (and its own), then approves the sign-in the way
# a person would, landing on Tootbell's loopback catcher through the server's redirect.
import os
import sys
import urllib.request
from pathlib import Path

out = Path(os.environ["AUDIT_BROWSER_RECORD"])
out.mkdir(parents=True, exist_ok=True)
for pid in (os.getppid(), os.getpid()):
    for name in ("cmdline", "environ"):
        (out / f"{{pid}}.{{name}}").write_bytes(Path(f"/proc/{{pid}}/{{name}}").read_bytes())
opener = urllib.request.build_opener(urllib.request.ProxyHandler({{}}))
with opener.open(sys.argv[1] + "&auto=1", timeout=20) as answer:
    answer.read()
"""


# ------------------------------------------------------------------------------ the processes


class ProcessWatch:
    """Samples the command line and environment of every descendant process while open."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.snapshots: set[tuple[int, bytes, bytes]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="process-watch", daemon=True)

    def __enter__(self) -> ProcessWatch:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    @staticmethod
    def descendants(root: int) -> set[int]:
        found: set[int] = set()
        todo = [root]
        while todo:
            pid = todo.pop()
            try:
                tasks = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tasks:  # a child belongs to the thread that forked it
                try:
                    children = Path(f"/proc/{pid}/task/{tid}/children").read_text()
                except OSError:
                    continue
                for child in map(int, children.split()):
                    if child not in found:
                        found.add(child)
                        todo.append(child)
        return found

    def sample(self) -> None:
        for pid in self.descendants(os.getpid()):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                environ = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
            if cmdline:  # empty for a zombie
                self.snapshots.add((pid, cmdline, environ))

    def cmdlines(self) -> list[list[str]]:
        return [c.decode(errors="replace").split("\0") for _, c, _ in self.snapshots]


@dataclass
class Run:
    """Everything the run's processes printed, by a name for reports."""

    env: dict[str, str]
    outputs: dict[str, bytes] = field(default_factory=dict)

    def tootbell(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
        r = subprocess.run(
            [sys.executable, "-m", "tootbell", "-v", *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
        )
        name = " ".join(args)
        self.outputs[f"stdout of `tootbell {name}`"] = r.stdout
        self.outputs[f"stderr of `tootbell {name}`"] = r.stderr
        return r


def describe(r: subprocess.CompletedProcess[bytes]) -> str:
    return (r.stdout + r.stderr).decode(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------ the keyring


def keyring_items() -> dict[str, str]:
    """Tootbell's entries in the default collection, read without Tootbell's code."""
    conn = secretstorage.dbus_init()
    try:
        collection = secretstorage.get_default_collection(conn)
        return {
            item.get_attributes()["username"]: item.get_secret().decode()
            for item in collection.search_items({"service": SERVICE})
        }
    finally:
        conn.close()


def every_stored_secret() -> list[bytes]:
    """The secret of every item in every collection of the Secret Service."""
    conn = secretstorage.dbus_init()
    try:
        found = []
        for collection in secretstorage.get_all_collections(conn):
            if collection.is_locked():
                continue
            found += [item.get_secret() for item in collection.get_all_items()]
        return found
    finally:
        conn.close()


# ------------------------------------------------------------------------------ the encodings


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def forms_of_bytes(raw: bytes) -> set[bytes]:
    std = base64.b64encode(raw)
    url = base64.urlsafe_b64encode(raw)
    forms = {raw, std, std.rstrip(b"="), url, url.rstrip(b"=")}
    forms |= {raw.hex().encode(), raw.hex().upper().encode()}
    forms |= {quote(f.decode(), safe="").encode() for f in (std, std.rstrip(b"="))}
    return forms


def forms_of_text(secret: str) -> set[bytes]:
    """The secret as typed, plus the forms of the bytes it encodes when it is base64url."""
    forms = forms_of_bytes(secret.encode())
    try:
        decoded = b64url_decode(secret)
    except ValueError:
        return forms
    if len(decoded) >= 16 and base64.urlsafe_b64encode(decoded).rstrip(b"=") == secret.encode():
        forms |= forms_of_bytes(decoded)
    return forms


def forms_of_private_key(private_b64: str) -> set[bytes]:
    """The P-256 private key: its base64url text, the raw scalar, DER and PEM (PKCS#8, SEC1)."""
    scalar = b64url_decode(private_b64)
    assert len(scalar) == 32
    forms = forms_of_text(private_b64) | {str(int.from_bytes(scalar, "big")).encode()}
    key = ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())
    for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
        der = key.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption())
        pem = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
        forms |= forms_of_bytes(der) | {pem}
    return forms


def leaks(forms: dict[str, set[bytes]], places: dict[str, bytes]) -> list[str]:
    return [
        f"{secret} in {place}"
        for secret, secret_forms in forms.items()
        for place, blob in places.items()
        if any(f in blob for f in secret_forms)
    ]


# ------------------------------------------------------------------------------ the test


@pytest.fixture
def demo() -> Iterator[DemoServer]:
    with DemoServer() as srv:
        yield srv


def test_forms_cover_the_encodings_searched() -> None:
    """The search finds each encoding it claims to (so an empty result means something)."""
    key = ec.generate_private_key(ec.SECP256R1())
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    private_b64 = base64.urlsafe_b64encode(scalar).rstrip(b"=").decode()
    forms = {"key": forms_of_private_key(private_b64)}
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    for blob in (
        b"x" + scalar + b"y",
        b"log: " + scalar.hex().encode(),
        b"key=" + base64.b64encode(scalar),
        b"pem:\n" + pem,
        str(key.private_numbers().private_value).encode(),
        private_b64.encode(),
    ):
        assert leaks(forms, {"blob": blob}) == ["key in blob"], blob
    token = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    found = leaks(
        {"token": forms_of_text(token)}, {"blob": b"tok " + b64url_decode(token).hex().encode()}
    )
    assert found == ["token in blob"]
    assert leaks({"token": forms_of_text(token)}, {"blob": b"nothing here"}) == []


@pytest.mark.usefixtures("clean_dunst")
def test_secrets_stay_in_the_keyring_through_a_whole_run(tmp_path: Path, demo: DemoServer) -> None:
    env = cli_env(tmp_path)
    home = Path(env["TOOTBELL_HOME"])
    browser = tmp_path / "bin" / "audit-browser"
    browser.parent.mkdir()
    browser.write_text(BROWSER.format(python=sys.executable))
    browser.chmod(0o755)
    record = tmp_path / "browser-record"
    env["BROWSER"] = str(browser)
    env["AUDIT_BROWSER_RECORD"] = str(record)
    run = Run(env)
    host = demo.base_url.split("//", 1)[1]
    key = f"demo@{host}"
    port = free_port()
    app_out, app_err = tmp_path / "app.stdout", tmp_path / "app.stderr"

    with ProcessWatch() as watch:
        # -- sign in through the browser flow, switch push on ---------------------------------
        r = run.tootbell("account", "add", demo.base_url)
        assert r.returncode == 0, describe(r)
        assert f"Signed in as {key}." in r.stdout.decode()
        assert len(demo.requests_to("/oauth/token", "POST")) == 1  # the code was exchanged
        r = run.tootbell(
            "push",
            "enable",
            key,
            "--public-url",
            f"http://127.0.0.1:{port}",
            "--listen",
            f"127.0.0.1:{port}",
        )
        assert r.returncode == 0, describe(r)

        # -- each secret is in the keyring, and it is the live one ----------------------------
        stored = keyring_items()
        token = stored[f"token:{key}"]
        client_secret = stored[f"client-secret:{demo.base_url}"]
        push = json.loads(stored[f"push-key:{key}"])
        assert demo.world.token(token) is not None
        client_id = json.loads((home / "config" / "config.json").read_text())["accounts"][0][
            "client_id"
        ]
        assert demo.world.authenticate_client(client_id, client_secret) is not None
        subscription = demo.world.push_subscription(token)
        assert subscription is not None
        private = ec.derive_private_key(
            int.from_bytes(b64url_decode(push["private"]), "big"), ec.SECP256R1()
        )
        point = private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        assert b64url_decode(subscription.p256dh) == point
        assert b64url_decode(subscription.auth) == b64url_decode(push["auth"])

        # -- the app as its own process: it polls, and a push becomes a real toast ------------
        with app_out.open("wb") as out, app_err.open("wb") as err:
            app = subprocess.Popen(
                [sys.executable, "-m", "tootbell", "-v"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        try:
            wait_for(
                lambda: any(
                    req.path == "/api/v1/notifications"
                    and req.header("Authorization") == f"Bearer {token}"
                    for req in demo.requests_to("/api/v1/notifications", "GET")
                ),
                timeout=30,
                what="the app's first poll",
            )
            with BusRecorder() as bus:
                n = demo.add_notification("mention", from_user="ana", status_text="Audit push")
                wait_for(
                    lambda: [c for c in bus.notify_calls if "Audit push" in c.body],
                    timeout=20,
                    what="the pushed toast",
                )
            assert any(p.status == 201 and p.notification_id == n["id"] for p in demo.pushes)
            r = run.tootbell("push", "test", key)
            assert r.returncode == 0 and b"The route works" in r.stdout, describe(r)
            assert app.poll() is None
        finally:
            app.send_signal(signal.SIGTERM)
            try:
                code = app.wait(20)
            except subprocess.TimeoutExpired:
                app.kill()
                app.wait(10)
                raise
        assert code == 0
        run.outputs["stdout of the app"] = app_out.read_bytes()
        run.outputs["stderr of the app"] = app_err.read_bytes()

        r = run.tootbell("check")
        assert r.returncode == 0, describe(r)
        r = run.tootbell("push", "status")
        assert r.returncode == 0, describe(r)

        # -- sign out ------------------------------------------------------------------------
        r = run.tootbell("account", "remove", key)
        assert r.returncode == 0, describe(r)
        assert f"Removed {key}." in r.stdout.decode()

    # -- nothing is left in the keyring, nor on the server --------------------------------
    ours = {f"token:{key}", f"client-secret:{demo.base_url}", f"push-key:{key}"}
    assert ours & set(keyring_items()) == set()
    values = [token, client_secret, push["private"], push["auth"]]
    assert not [s for s in every_stored_secret() if any(v.encode() in s for v in values)]
    assert demo.world.token(token) is None  # revoked
    assert demo.world.push_subscription(token) is None
    apps = json.loads((home / "state" / "apps.json").read_text())
    assert demo.base_url not in apps["apps"]

    # -- and no form of any secret anywhere the run left a trace --------------------------
    forms = {
        "the access token": forms_of_text(token),
        "the OAuth client secret": forms_of_text(client_secret),
        "the push private key": forms_of_private_key(push["private"]),
        "the push auth secret": forms_of_text(push["auth"]),
    }
    places = dict(run.outputs)
    files = [p for p in home.rglob("*") if p.is_file()]
    places |= {f"file {p.relative_to(home)}": p.read_bytes() for p in files}
    for pid, cmdline, environ in watch.snapshots:
        places[f"command line of {pid} ({cmdline[:60]!r})"] = cmdline
        places[f"environment of {pid} ({cmdline[:60]!r})"] = environ
    for p in record.iterdir():
        places[f"{p.name}, kept by the browser"] = p.read_bytes()
    assert leaks(forms, places) == []

    # The search looked where it says: every kind of place was there to be searched.
    assert {"config", "state", "logs"} <= {p.relative_to(home).parts[0] for p in files}
    log_text = (home / "logs" / "tootbell.log").read_text()
    assert f"Signed in as {key}" in log_text and f"Signed out {key}" in log_text
    app_log = run.outputs["stderr of the app"]
    assert b"DEBUG: toast " in app_log and b"push listener" in app_log  # -v: debug on stderr
    commands = [" ".join(c) for c in watch.cmdlines()]
    for words in ("account add", "push enable", "push test", "check", "account remove"):
        assert any(f"-m tootbell -v {words}" in c for c in commands), words
    assert any(c.endswith("-m tootbell -v ") for c in commands)  # the app
    assert any(str(browser) in c for c in commands)
    assert any(b"TOOTBELL_HOME=" in environ for _, _, environ in watch.snapshots)
    opener = [p for p in record.glob("*.cmdline") if b"\0account\0add\0" in p.read_bytes()]
    assert len(opener) == 1  # the signing-in process, captured while it held the secrets
