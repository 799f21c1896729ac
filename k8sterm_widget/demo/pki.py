"""A throw-away certificate authority and server certificate for the demo cluster.

kubectl sends credentials only over https, and client-go verifies the server against the kubeconfig's
``certificate-authority-data``; so the demo cluster needs a real CA and a server certificate whose SANs cover
``127.0.0.1`` and ``localhost``.  Both are kept in the state directory and reused when still valid, so a
cluster restarted on the same state directory keeps the kubeconfig its clients already hold.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import exceptions as crypto_exceptions
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_SERVER_DNS = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "demo-control-plane",
)
# 127.0.0.1 for clients on the host; 10.96.0.1, the ``kubernetes`` Service, for pods (runtime/network.py)
_SERVER_IPS = ("127.0.0.1", "10.96.0.1")


@dataclass(frozen=True)
class ServerPKI:
    """Paths of the PEM files, and the CA certificate's bytes for the kubeconfig."""

    ca_cert: Path
    server_cert: Path
    server_key: Path

    @property
    def ca_pem(self) -> bytes:
        return self.ca_cert.read_bytes()


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by the owner only (keys and tokens must not be world readable)."""
    tmp = path.with_name(path.name + ".tmp")
    # A leftover temporary file would keep its own mode (open's mode applies only to new files), and a
    # planted symlink would redirect the write: start from nothing, and refuse to follow a link.
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _key() -> ec.EllipticCurvePrivateKey:
    # P-256 keys are generated in microseconds and every client in scope (Go, OpenSSL) accepts them.
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _make_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "k8sterm-demo-ca")])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _make_server(
    ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    now = _now()
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in _SERVER_DNS]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in _SERVER_IPS]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _still_valid(pki: ServerPKI) -> bool:
    """True if the stored chain exists, verifies and stays valid for at least another day."""
    try:
        ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
        server = x509.load_pem_x509_certificate(pki.server_cert.read_bytes())
        serialization.load_pem_private_key(pki.server_key.read_bytes(), password=None)
        server.verify_directly_issued_by(ca)
        names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        if {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} != set(_SERVER_IPS):
            return False  # made before the in-cluster address existed: pods could not verify it
    except (OSError, ValueError, TypeError, x509.ExtensionNotFound, crypto_exceptions.InvalidSignature):
        return False
    horizon = _now() + dt.timedelta(days=1)
    return server.not_valid_after_utc > horizon and ca.not_valid_after_utc > horizon


def ensure_pki(state_dir: Path) -> ServerPKI:
    """Return the CA and server certificate in ``state_dir``, creating them if absent or unusable."""
    state_dir.mkdir(parents=True, exist_ok=True)
    pki = ServerPKI(state_dir / "ca.crt", state_dir / "server.crt", state_dir / "server.key")
    if _still_valid(pki):
        return pki
    ca, ca_key = _make_ca()
    server, server_key = _make_server(ca, ca_key)
    _write_private(state_dir / "ca.key", _key_pem(ca_key))
    _write_private(pki.server_key, _key_pem(server_key))
    pki.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.server_cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    return pki
