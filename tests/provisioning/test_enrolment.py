"""`yiwang node enroll` against a running hub: the happy path, and every refusal with the message
the person at the village laptop sees."""

from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from provisioning.enrol import EnrolmentFailed, enroll
from provisioning.federation import LocalFederation, NodeSpec, free_port
from sync_protocol import signing_key_from_text, user_nkey_from_seed, verify_key_to_text

pytestmark = pytest.mark.e2e


def new_slip(hub: LocalFederation, node_id: str) -> dict:
    township = {"node_id": "qingshan", "name": "青山镇便民服务中心", "kind": "township"}  # a village's township: enrolled or on its way
    httpx.post(f"{hub.hub_url}/api/enrolment-codes", json=township, headers={"Authorization": f"Bearer {hub.hub_token()}"}, verify=hub.hub_verify)
    response = httpx.post(
        f"{hub.hub_url}/api/enrolment-codes",
        json={"node_id": node_id, "name": f"{node_id} 代办点", "kind": "village", "parent": "qingshan"},
        headers={"Authorization": f"Bearer {hub.hub_token()}"},
        timeout=30,
        verify=hub.hub_verify,
    )
    assert response.status_code == 201, response.text
    return response.json()


def new_code(hub: LocalFederation, node_id: str) -> str:
    return new_slip(hub, node_id)["code"]


def test_enrolment_keeps_private_keys_on_the_node_and_pins_the_hub(hub: LocalFederation, tmp_path: Path):
    slip = new_slip(hub, "dongcun")
    assert (
        slip["ca_fingerprint"] == hub.ca_fingerprint()
        and slip["command"] == f"yiwang node enroll {slip['code']} --hub {hub.hub_url} --ca {hub.ca_fingerprint()}"
    )
    answer = enroll(slip["code"], hub.hub_url, tmp_path / "node", slip["ca_fingerprint"])
    assert answer["node_id"] == "dongcun" and answer["parent"] == "qingshan"
    for name in ("node.key", "nats.nk"):
        assert stat.S_IMODE((tmp_path / "node" / name).stat().st_mode) == 0o600
    assert (tmp_path / "node" / "nats-ca.pem").read_bytes() == (hub.nats_dir / "ca.pem").read_bytes()
    hub_key = (hub.root / "hub" / "hub.key").read_text()
    assert answer["hub_public_key"] == verify_key_to_text(signing_key_from_text(hub_key).verify_key)
    # the hub holds the public halves and nothing else of the node's keys
    node_key, nats_seed = (tmp_path / "node" / "node.key").read_text().strip(), (tmp_path / "node" / "nats.nk").read_text().strip()
    db = sqlite3.connect(hub.root / "hub" / "hub.sqlite3")
    assert db.execute("SELECT public_key FROM node WHERE id = 'dongcun'").fetchone()[0] == verify_key_to_text(
        signing_key_from_text(node_key).verify_key
    )
    assert db.execute("SELECT nkey FROM natscredential WHERE node_id = 'dongcun'").fetchone()[0] == user_nkey_from_seed(nats_seed)
    db.close()
    stored = (hub.root / "hub" / "hub.sqlite3").read_bytes() + (hub.nats_dir / "accounts.conf").read_bytes()
    assert node_key.encode() not in stored and nats_seed.encode() not in stored
    assert user_nkey_from_seed(nats_seed).encode() in (hub.nats_dir / "accounts.conf").read_bytes()


def test_a_used_an_unknown_and_an_expired_code_are_refused_in_chinese(hub: LocalFederation, tmp_path: Path):
    code = new_code(hub, "beicun")
    enroll(code, hub.hub_url, tmp_path / "first", hub.ca_fingerprint())
    with pytest.raises(EnrolmentFailed, match="登记码已经使用过"):
        enroll(code, hub.hub_url, tmp_path / "second", hub.ca_fingerprint())
    with pytest.raises(EnrolmentFailed, match="登记码无效"):
        enroll("AAAA-BBBB-CCCC", hub.hub_url, tmp_path / "third", hub.ca_fingerprint())
    expired = new_code(hub, "nancun")
    db = sqlite3.connect(hub.root / "hub" / "hub.sqlite3")
    db.execute("UPDATE enrolmentcode SET expires_at = '2020-01-01T00:00:00.000000Z' WHERE node_id = 'nancun'")
    db.commit()
    db.close()
    with pytest.raises(EnrolmentFailed, match="登记码已过期"):
        enroll(expired, hub.hub_url, tmp_path / "fourth", hub.ca_fingerprint())
    with pytest.raises(EnrolmentFailed, match="已经登记过"):
        enroll(new_code(hub, "xicun"), hub.hub_url, tmp_path / "first", hub.ca_fingerprint())  # this directory already is a node
    with pytest.raises(EnrolmentFailed, match="无法连接县中枢"):
        enroll(code, f"http://127.0.0.1:{free_port()}", tmp_path / "fifth", hub.ca_fingerprint(), timeout=2)


def test_a_hub_whose_ca_is_not_the_one_on_the_slip_is_refused_before_anything_is_sent(hub: LocalFederation, tmp_path: Path):
    code = new_code(hub, "houcun")
    other = "sha256:" + "0" * 64  # a slip from another county, or an impostor's hub
    with pytest.raises(EnrolmentFailed, match=r"证书指纹不符.*冒充"):
        enroll(code, hub.hub_url, tmp_path / "n", other)
    assert not (tmp_path / "n").exists()  # no key made, nothing sent: the code is still good
    with pytest.raises(EnrolmentFailed, match="sha256:"):
        enroll(code, hub.hub_url, tmp_path / "n", "AB:CD")
    with pytest.raises(EnrolmentFailed, match="https://"):  # plain HTTP across a network is refused ...
        enroll(code, "http://hub.county.example:8700", tmp_path / "n", hub.ca_fingerprint())
    assert enroll(code, hub.hub_url, tmp_path / "n", hub.ca_fingerprint())["node_id"] == "houcun"  # ... the right slip works


def test_the_command_says_why_and_exits_non_zero(hub: LocalFederation, tmp_path: Path):
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "yiwang"),
            "node",
            "enroll",
            "ZZZZ-ZZZZ-ZZZZ",
            "--hub",
            hub.hub_url,
            "--ca",
            hub.ca_fingerprint(),
            "--dir",
            str(tmp_path / "n"),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "登记码无效" in done.stderr and not (tmp_path / "n" / "node.json").exists()


def test_hub_init_writes_a_tls_nkey_nats_configuration_and_the_first_operator(tmp_path: Path):
    from provisioning.natsd import nats_server_binary

    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "yiwang"),
            "hub",
            "init",
            "--dir",
            str(tmp_path / "hub"),
            "--nats-port",
            "4799",
            "--nats-name",
            "hub.county.example",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "first operator account: operator / " in done.stdout  # a generated password, shown once
    nats = tmp_path / "hub" / "nats"
    for secret in ("ca.key", "server.key", "hub.nk"):
        assert stat.S_IMODE((nats / secret).stat().st_mode) == 0o600
    conf = (nats / "nats.conf").read_text()
    assert "tls {" in conf and "jetstream {" in conf and "include ./accounts.conf" in conf and ":4799" in conf
    from cryptography import x509

    cert = x509.load_pem_x509_certificate((nats / "server.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert "hub.county.example" in names
    # nats-server itself accepts the configuration
    check = subprocess.run([str(nats_server_binary()), "-t", "-c", str(nats / "nats.conf")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_hub_init_writes_a_three_server_cluster_that_nats_server_accepts(tmp_path: Path):
    from provisioning.natsd import nats_server_binary

    members = ["n1=nats1.city.example:4700:6222", "n2=nats2.city.example:4700:6222", "n3=10.0.0.13:4700:6222"]
    argv = [str(Path(sys.executable).parent / "yiwang"), "hub", "init", "--dir", str(tmp_path / "hub")]
    done = subprocess.run(argv + [arg for m in members for arg in ("--nats-cluster", m)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "--nats-url tls://nats1.city.example:4700,tls://nats2.city.example:4700,tls://10.0.0.13:4700" in done.stdout
    nats = tmp_path / "hub" / "nats"
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    route = x509.load_pem_x509_certificate((nats / "route.pem").read_bytes())  # routes verify each other both ways
    assert set(route.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == {
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    }
    server = x509.load_pem_x509_certificate((nats / "server.pem").read_bytes()).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"nats1.city.example", "nats2.city.example"} <= set(server.get_values_for_type(x509.DNSName))
    for name in ("n1", "n2", "n3"):
        conf = (nats / "cluster" / name / "nats.conf").read_text()
        assert f"server_name: {name}" in conf and "include ../../accounts.conf" in conf and conf.count("nats-route://") == 2
        check = subprocess.run([str(nats_server_binary()), "-t", "-c", str(nats / "cluster" / name / "nats.conf")], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    bad = subprocess.run([*argv, "--nats-cluster", "n1=nats1:4700"], capture_output=True, text=True)
    assert bad.returncode != 0 and "NAME=HOST:PORT:ROUTE_PORT" in bad.stderr


def test_over_https_the_hub_and_a_township_node_are_verified_against_the_county_ca(tmp_path: Path):
    from tests.support.federation import running_federation

    yiwang = str(Path(sys.executable).parent / "yiwang")
    with running_federation(tmp_path / "fed", https=True) as fed:
        assert fed.hub_url.startswith("https://")
        assert httpx.get(f"{fed.hub_url}/api/health", verify=fed.hub_verify).status_code == 200
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{fed.hub_url}/api/health")  # the system's trust store does not know the county CA
        with pytest.raises(httpx.HTTPError):
            httpx.get(fed.hub_url.replace("https://", "http://") + "/api/health")  # no plain HTTP on that port

        # the operator's slip, typed in at the township as printed
        slip = new_slip(fed, "donglou")
        node_dir = tmp_path / "donglou"
        done = subprocess.run([yiwang, *slip["command"].split()[1:], "--dir", str(node_dir)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        enrolled = json.loads((node_dir / "node.json").read_text())
        assert enrolled["ca_fingerprint"] == fed.ca_fingerprint()
        assert enrolled["progress_url"] == fed.hub_url + "/progress"  # what the point's slips print for citizens

        # the township's web server, on the LAN, with a certificate from the county CA
        issued = subprocess.run(
            [yiwang, "hub", "issue-cert", "127.0.0.1", "donglou.lan", "--out", str(tmp_path / "cert"), "--dir", str(fed.root / "hub")],
            capture_output=True,
            text=True,
        )
        assert issued.returncode == 0, issued.stderr
        assert stat.S_IMODE((tmp_path / "cert" / "web.key").stat().st_mode) == 0o600
        fed.root.joinpath("nodes").mkdir(exist_ok=True)
        node_dir.rename(fed.node_dir("donglou"))
        spec = NodeSpec("donglou", "东楼", "township", free_port(), tls_dir=tmp_path / "cert")
        fed.start_node(spec)  # waits for /api/status over HTTPS, verified with the county CA
        status = httpx.get(f"https://127.0.0.1:{spec.port}/api/status", verify=fed.hub_verify).json()
        assert status["node_id"] == "donglou"
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"https://127.0.0.1:{spec.port}/api/status")
