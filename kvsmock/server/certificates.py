"""The local certificate authority that lets clients trust the server's HTTPS and WSS.

kvsmock makes one CA the first time it is needed and keeps it (the user's
config directory, or ``$KVSMOCK_CA_DIR``), so a client told once to trust
``ca.pem`` trusts every later server. Each server start issues a fresh leaf
certificate from it whose subject alternative names cover loopback
(``127.0.0.1``, ``::1``, ``localhost``) and the names the server is reached
at (``--host``, ``--public-url``, ``--signaling-public-url``).
"""

from __future__ import annotations

import datetime
import fcntl
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
#: Names every leaf certificate covers.
LOOPBACK_NAMES = ("127.0.0.1", "::1", "localhost")
_CA_YEARS = 10
_LEAF_DAYS = 365


def ca_dir() -> Path:
    """Where the CA is kept: ``$KVSMOCK_CA_DIR``, else ``$XDG_CONFIG_HOME/kvsmock`` (``~/.config/kvsmock``)."""
    explicit = os.environ.get("KVSMOCK_CA_DIR")
    if explicit:
        return Path(explicit)
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(config) / "kvsmock"


@dataclass(frozen=True)
class LocalCA:
    """The CA's certificate and key, loaded from its directory."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_path: Path

    def issue(self, names: list[str]) -> tuple[bytes, bytes]:
        """A leaf certificate for ``names`` (host names or IP addresses) and its key, both PEM."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        cert = (
            _builder(subject, self.cert.subject, key, _LEAF_DAYS)
            .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(key_agreement=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey, days: int
) -> x509.CertificateBuilder:
    """A certificate for ``key``, valid from an hour ago (clock skew) for ``days``, extensions still to add."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=days))
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _key_usage(*, key_agreement: bool = False, key_cert_sign: bool = False, crl_sign: bool = False) -> x509.KeyUsage:
    """The KeyUsage of an EC key that signs (digital_signature), plus the given uses."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=key_agreement,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def load_or_create_ca(directory: Path | None = None) -> LocalCA:
    """The kept CA, made on first use (under a file lock, so concurrent servers agree on one)."""
    directory = directory or ca_dir()
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / CA_FILE, directory / CA_KEY_FILE
    with open(directory / ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (cert_path.exists() and key_path.exists()):
            _create_ca(cert_path, key_path)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{key_path} does not hold the EC key kvsmock made; remove {directory} to make a new CA")
    return LocalCA(cert, key, cert_path)


def _create_ca(cert_path: Path, key_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kvsmock"),
            x509.NameAttribute(NameOID.COMMON_NAME, "kvsmock local CA"),
        ]
    )
    cert = (
        _builder(name, name, key, 365 * _CA_YEARS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_atomically(key_path, _key_pem(key), mode=0o600)
    _write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def server_names(host: str, *urls: str | None) -> list[str]:
    """The names a leaf certificate must cover: loopback, the listening host and the public URLs' hosts."""
    from urllib.parse import urlsplit

    names = list(LOOPBACK_NAMES)
    candidates = [host] + [urlsplit(u).hostname for u in urls if u]
    for name in candidates:
        if name and name not in ("0.0.0.0", "::", "") and name not in names:
            names.append(name)
    return names


def local_ca_context(host: str, *public_urls: str | None) -> tuple[ssl.SSLContext, Path]:
    """A server SSLContext with a fresh leaf from the local CA, and the CA file clients should trust."""
    ca = load_or_create_ca()
    cert_pem, key_pem = ca.issue(server_names(host, *public_urls))
    with tempfile.TemporaryDirectory(prefix="kvsmock-tls-") as tmp:
        cert_file, key_file = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        with open(cert_file, "wb") as f:
            # The chain: leaf then CA, so clients that only hold the CA can build it.
            f.write(cert_pem + ca.cert.public_bytes(serialization.Encoding.PEM))
        with open(key_file, "wb") as f:
            f.write(key_pem)
        return server_context(cert_file, key_file), ca.cert_path


def server_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A TLS server context for a certificate chain and key (the user's own, or one the local CA issued)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    context.set_alpn_protocols(["http/1.1"])
    # No TLS 1.3 session tickets: the server would send them after the handshake, while the
    # client's first request is already on its way, the interplay behind hangs seen in other
    # TLS stacks (and, rarely under heavy load, in a wss:// connect here); an emulator on
    # loopback gains nothing from resuming sessions.
    context.num_tickets = 0
    return context
