"""A throw-away certificate authority for tests, made with the `openssl` command at test time (nothing
is committed): a CA, and server certificates it signs for the names a test connects to.

    ca = make_ca(tmp_path)                                   # CA(cert, key)
    srv = make_server_cert(ca, tmp_path, ["127.0.0.1", "localhost"])   # Cert(cert, key)
    pki = make_pki(tmp_path)                                 # both at once: PKI(ca, cert, key)

Keys are P-256 EC keys in PKCS#8 PEM (fast to make); traditional_key() rewrites one in the
traditional format. Certificates are valid from now for two days.
"""
import ipaddress
import subprocess
from collections import namedtuple
from pathlib import Path

CA = namedtuple("CA", "cert key")
Cert = namedtuple("Cert", "cert key")
PKI = namedtuple("PKI", "ca cert key")


def _openssl(*args, cwd=None):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {r.stderr}")
    return r.stdout


def _key(path):
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path))
    return path


def _san(names):
    """subjectAltName for host names and IP addresses."""
    out = []
    for n in names:
        try:
            ipaddress.ip_address(n)
            out.append(f"IP:{n}")
        except ValueError:
            out.append(f"DNS:{n}")
    return ",".join(out)


def make_ca(directory, name="ccbridge test CA"):
    """A self-signed CA certificate and its key in `directory`."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    key = _key(d / "ca.key")
    cert = d / "ca.pem"
    _openssl("req", "-x509", "-new", "-key", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return CA(cert, key)


def make_server_cert(ca, directory, names=("127.0.0.1", "localhost"), stem="server"):
    """A server certificate signed by `ca` for `names` (IP addresses and DNS names), with its key."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    key = _key(d / f"{stem}.key")
    csr = d / f"{stem}.csr"
    cert = d / f"{stem}.pem"
    ext = d / f"{stem}.ext"
    ext.write_text(f"subjectAltName={_san(names)}\nbasicConstraints=CA:FALSE\n"
                   "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
                   "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n")
    _openssl("req", "-new", "-key", str(key), "-out", str(csr), "-subj", f"/CN={names[0]}")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key), "-CAcreateserial",
             "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return Cert(cert, key)


def traditional_key(key, out):
    """`key` rewritten in the traditional (non-PKCS#8) PEM format, e.g. BEGIN EC PRIVATE KEY."""
    _openssl("pkey", "-in", str(key), "-traditional", "-out", str(out))
    return Path(out)


def make_pki(directory, names=("127.0.0.1", "localhost")):
    """A fresh CA and a server certificate it signed for `names`."""
    ca = make_ca(directory)
    srv = make_server_cert(ca, directory, names)
    return PKI(ca.cert, srv.cert, srv.key)
