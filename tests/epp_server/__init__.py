"""A test EPP registry (RFC 5730/5731 over RFC 5734 mutual TLS) for the EPP backend's tests."""

from tests.epp_server.certificates import Certificates, make_certificates
from tests.epp_server.server import SCHEMA, EppTestServer

__all__ = ["SCHEMA", "Certificates", "EppTestServer", "make_certificates"]
