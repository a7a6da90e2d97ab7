"""A private registry for tests: Debian's ``docker-registry`` (distribution 2.8) on
127.0.0.1:<free port>, with its config, storage and key material in a ``dyt-`` temp dir.

Modes: ``none`` (anonymous, plain HTTP), ``basic`` (htpasswd with bcrypt, made by
``htpasswd -B`` from apache2-utils), ``tls`` (HTTPS with a server certificate signed by
a CA made with ``openssl``; ``certs_dir`` holds ``<host:port>/ca.crt`` for clients, and
``client.cert``/``client.key`` when the registry is told to require client certificates) and
``token`` (the registry trusts a certificate whose key signs RS256 JWTs issued by
``TokenIssuer``, a small HTTP token service in the test process that checks the same
user and password). ``stop()`` ends the registry (and the issuer) and removes the dir.

``testing.faultproxy.FaultProxy`` puts faults between a client and this registry.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from .names import SESSION

Mode = Literal["none", "basic", "tls", "token"]
MODES: tuple[Mode, ...] = ("none", "basic", "tls", "token")
USER = "dyt-user"
PASSWORD = "dyt-secret-pw"
SERVICE = "dyt-registry"
ISSUER = "dyt-token-issuer"
START_TIMEOUT = 30.0
# dyt-registry.test: a made-up name that tests reach only through their own proxy
PROXY_NAME = "dyt-registry.test"
SERVER_EXT = f"subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:{PROXY_NAME}"


class RegistryUnavailable(Exception):
    """docker-registry (or a tool to set it up) is missing; the message says which."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(*args: str, cwd: Path | None = None) -> bytes:
    done = subprocess.run(args, cwd=cwd, capture_output=True, check=False)
    if done.returncode != 0:
        raise RegistryUnavailable(f"{args[0]} failed: {done.stderr.decode()[-300:]}")
    return done.stdout


def _need(tool: str, package: str) -> str:
    found = shutil.which(tool)
    if not found:
        raise RegistryUnavailable(f"{tool} is missing: install Debian's {package}")
    return found


def make_ca(dir: Path) -> tuple[Path, Path]:
    """A CA (cert, key) for the test."""
    cert, key = dir / "ca.crt", dir / "ca.key"
    _run(
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", f"/CN={SESSION} test CA", "-keyout", str(key), "-out", str(cert),
    )  # fmt: skip
    return cert, key


def make_cert(dir: Path, ca: tuple[Path, Path], name: str, ext: str) -> tuple[Path, Path]:
    """A certificate ``name``.crt/.key signed by ``ca`` with the x509v3 extension ``ext``."""
    cert, key = dir / f"{name}.crt", dir / f"{name}.key"
    csr, extfile = dir / f"{name}.csr", dir / f"{name}.ext"
    extfile.write_text(ext + "\n")
    _run(
        "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
        "-keyout", str(key), "-out", str(csr),
    )  # fmt: skip
    _run(
        "openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
        "-CAcreateserial", "-days", "2", "-extfile", str(extfile), "-out", str(cert),
    )  # fmt: skip
    return cert, key


class TokenIssuer:
    """A token service: ``GET /token?service=…&scope=…`` with Basic auth -> RS256 JWT."""

    def __init__(self, dir: Path) -> None:
        self.key = dir / "token.key"
        self.cert = dir / "token.crt"
        _run(
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=dyt-token-signer", "-keyout", str(self.key), "-out", str(self.cert),
        )  # fmt: skip
        der = _run("openssl", "x509", "-in", str(self.cert), "-outform", "DER")
        self.x5c = base64.b64encode(der).decode()
        self.requests: list[dict[str, list[str]]] = []
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # the token spec's one endpoint
                query = parse_qs(urlsplit(self.path).query)
                issuer.requests.append(query)
                status, body = issuer.answer(query, self.headers.get("Authorization", ""))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def answer(self, query: dict[str, list[str]], authorization: str) -> tuple[int, bytes]:
        user = ""
        if authorization.startswith("Basic "):
            raw = base64.b64decode(authorization[6:]).decode(errors="replace")
            name, _, password = raw.partition(":")
            if (name, password) != (USER, PASSWORD):
                error = {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}
                return 401, json.dumps(error).encode()
            user = name
        access: list[dict[str, object]] = []
        for scope in query.get("scope", []):
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if user and kind in ("repository", "registry"):
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
        token = self.sign(user, query.get("service", [""])[0], access)
        return 200, json.dumps({"token": token, "expires_in": 300}).encode()

    def sign(self, subject: str, service: str, access: list[dict[str, object]]) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": os.urandom(8).hex(),
            "access": access,
        }
        signing_input = f"{_b64(json.dumps(header))}.{_b64(json.dumps(claims))}"
        done = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)],
            input=signing_input.encode(),
            capture_output=True,
            check=True,
        )
        return f"{signing_input}.{_b64(done.stdout)}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def _b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class Registry:
    """One running private registry."""

    mode: Mode
    dir: Path
    port: int
    proc: subprocess.Popen[bytes]
    certs_dir: Path  # for clients: <domain>/ca.crt in tls mode, empty otherwise
    issuer: TokenIssuer | None = None
    log: Path = field(default_factory=Path)

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def storage(self) -> Path:
        return self.dir / "storage"

    @property
    def secure(self) -> bool:
        return self.mode == "tls"

    @property
    def credentials(self) -> tuple[str, str] | None:
        return (USER, PASSWORD) if self.mode in ("basic", "token") else None

    def blob_file(self, digest: str) -> Path:
        """Where the registry keeps a blob's bytes (filesystem driver layout)."""
        _, hex_ = digest.split(":")
        return self.storage / "docker/registry/v2/blobs/sha256" / hex_[:2] / hex_ / "data"

    @classmethod
    def start(cls, mode: Mode = "none", *, client_certs: bool = False) -> Registry:
        """Start a registry; ``client_certs`` (tls mode) makes it require a client
        certificate, which ``certs_dir`` then holds as ``client.cert``/``client.key``."""
        binary = _need("docker-registry", "docker-registry")
        dir = Path(tempfile.mkdtemp(prefix=f"{SESSION}-registry-"))
        try:
            return cls._start(binary, mode, dir, client_certs)
        except BaseException:
            shutil.rmtree(dir, ignore_errors=True)
            raise

    @classmethod
    def _start(cls, binary: str, mode: Mode, dir: Path, client_certs: bool) -> Registry:
        port = free_port()
        certs_dir = dir / "client-certs"
        certs_dir.mkdir()
        lines = [
            "version: 0.1",
            "log:",
            "  level: warn",
            "  accesslog:",
            "    disabled: true",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {dir / 'storage'}",
            "  delete:",
            "    enabled: true",
            "http:",
            f"  addr: 127.0.0.1:{port}",
        ]
        issuer = None
        if mode == "tls":
            _need("openssl", "openssl")
            ca = make_ca(dir)
            cert, key = make_cert(dir, ca, "server", SERVER_EXT)
            lines += ["  tls:", f"    certificate: {cert}", f"    key: {key}"]
            mine = certs_dir / f"127.0.0.1:{port}"
            mine.mkdir()
            shutil.copy(ca[0], mine / "ca.crt")
            if client_certs:
                lines += ["    clientcas:", f"      - {ca[0]}"]
                cert, key = make_cert(dir, ca, "client", "extendedKeyUsage=clientAuth")
                shutil.copy(cert, mine / "client.cert")
                shutil.copy(key, mine / "client.key")
        if mode == "basic":
            htpasswd = _need("htpasswd", "apache2-utils")
            (dir / "htpasswd").write_bytes(_run(htpasswd, "-Bbn", USER, PASSWORD))
            lines += [
                "auth:",
                "  htpasswd:",
                "    realm: dyt-basic",
                f"    path: {dir / 'htpasswd'}",
            ]
        if mode == "token":
            _need("openssl", "openssl")
            issuer = TokenIssuer(dir)
            lines += [
                "auth:",
                "  token:",
                f"    realm: {issuer.realm}",
                f"    service: {SERVICE}",
                f"    issuer: {ISSUER}",
                f"    rootcertbundle: {issuer.cert}",
            ]
        config = dir / "config.yml"
        config.write_text("\n".join(lines) + "\n")
        log = dir / "registry.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [binary, "serve", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        registry = cls(mode, dir, port, proc, certs_dir, issuer, log)
        try:
            registry._wait_up()
        except BaseException:
            registry.stop()
            raise
        return registry

    def _wait_up(self) -> None:
        scheme = "https" if self.secure else "http"
        context = None
        if self.secure:
            import ssl

            context = ssl.create_default_context(cafile=str(self.dir / "ca.crt"))
            client = self.dir / "client.crt"
            if client.exists():
                context.load_cert_chain(str(client), str(self.dir / "client.key"))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RegistryUnavailable(f"docker-registry exited: {self.log.read_text()[-500:]}")
            try:
                urllib.request.urlopen(f"{scheme}://{self.domain}/v2/", timeout=2, context=context)
                return
            except urllib.error.HTTPError as e:
                if e.code == 401:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RegistryUnavailable(f"docker-registry did not come up: {self.log.read_text()[-500:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.issuer is not None:
            self.issuer.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
