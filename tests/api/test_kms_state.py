"""moto's KMS state saved with ``kms_state.snapshot`` and put back with ``restore``
into a fresh moto (a server restarted on its data directory): keys, material,
state, aliases, tags and grants come back, through the boto3 KMS API."""

from __future__ import annotations

import json
import logging

import boto3
import pytest
from moto import mock_aws

from kvsmock.api.kms_state import VERSION, restore, snapshot

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
CONTEXT = {"stream": "cam-1"}


@pytest.fixture(autouse=True)
def _no_profile(monkeypatch):
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "MOTO_ACCOUNT_ID"):
        monkeypatch.delenv(key, raising=False)


def kms(region: str = REGION):
    return boto3.client("kms", region_name=region, **CREDENTIALS)


def restarted(saved: dict) -> str:
    """The snapshot as it would be written to and read from the data directory."""
    return json.loads(json.dumps(saved))


def metadata(client, key_id: str) -> dict:
    return client.describe_key(KeyId=key_id)["KeyMetadata"]


def without_metadata(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def test_keys_survive_a_restart():
    with mock_aws():
        c = kms()
        customer = c.create_key(
            Description="stream key", Tags=[{"TagKey": "team", "TagValue": "video"}]
        )["KeyMetadata"]["KeyId"]
        c.create_alias(AliasName="alias/cams", TargetKeyId=customer)
        disabled = c.create_key(Description="switched off")["KeyMetadata"]["KeyId"]
        c.disable_key(KeyId=disabled)
        doomed = c.create_key(Description="going away")["KeyMetadata"]["KeyId"]
        c.schedule_key_deletion(KeyId=doomed, PendingWindowInDays=7)
        c.enable_key_rotation(KeyId=customer)

        sealed = c.encrypt(KeyId="alias/cams", Plaintext=b"fragment bytes", EncryptionContext=CONTEXT)
        data_key = c.generate_data_key(KeyId=customer, KeySpec="AES_256")
        default_data_key = c.generate_data_key(KeyId="alias/aws/kinesisvideo", KeySpec="AES_256")
        default_key = metadata(c, "alias/aws/kinesisvideo")["KeyId"]

        before = {k: metadata(c, k) for k in (customer, disabled, doomed, default_key)}
        aliases = without_metadata(c.list_aliases())
        tags = without_metadata(c.list_resource_tags(KeyId=customer))
        keys = c.list_keys()["Keys"]
        saved = json.dumps(snapshot())

    with mock_aws():  # a fresh moto, as after a restart
        c = kms()
        assert c.list_keys()["Keys"] == []
        restore(json.loads(saved))

        assert c.decrypt(CiphertextBlob=sealed["CiphertextBlob"], EncryptionContext=CONTEXT)["Plaintext"] == (
            b"fragment bytes"
        )
        opened = c.decrypt(CiphertextBlob=data_key["CiphertextBlob"])
        assert (opened["Plaintext"], opened["KeyId"]) == (data_key["Plaintext"], data_key["KeyId"])
        opened = c.decrypt(CiphertextBlob=default_data_key["CiphertextBlob"])
        assert (opened["Plaintext"], opened["KeyId"]) == (default_data_key["Plaintext"], default_data_key["KeyId"])

        assert {k: metadata(c, k) for k in before} == before
        assert metadata(c, "alias/aws/kinesisvideo")["KeyId"] == default_key  # not a new default key
        assert metadata(c, "alias/cams")["KeyId"] == customer
        assert without_metadata(c.list_aliases()) == aliases
        assert without_metadata(c.list_resource_tags(KeyId=customer)) == tags == {
            "Tags": [{"TagKey": "team", "TagValue": "video"}], "Truncated": False
        }
        assert c.list_keys()["Keys"] == keys
        assert c.get_key_rotation_status(KeyId=customer)["KeyRotationEnabled"] is True

        assert (before[disabled]["KeyState"], before[disabled]["Enabled"]) == ("Disabled", False)
        assert before[doomed]["KeyState"] == "PendingDeletion" and "DeletionDate" in before[doomed]
        c.cancel_key_deletion(KeyId=doomed)
        assert metadata(c, doomed)["KeyState"] == "Disabled"

        # the restored keys go on working
        again = c.encrypt(KeyId=customer, Plaintext=b"later")["CiphertextBlob"]
        assert c.decrypt(CiphertextBlob=again)["Plaintext"] == b"later"


def test_asymmetric_hmac_keys_and_grants_survive():
    with mock_aws():
        c = kms()
        signer = c.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
        rsa = c.create_key(KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048")["KeyMetadata"]["KeyId"]
        mac_key = c.create_key(KeyUsage="GENERATE_VERIFY_MAC", KeySpec="HMAC_256")["KeyMetadata"]["KeyId"]
        public = {k: c.get_public_key(KeyId=k)["PublicKey"] for k in (signer, rsa)}
        signature = c.sign(KeyId=signer, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
        rsa_signature = c.sign(KeyId=rsa, Message=b"m", SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256")["Signature"]
        mac = c.generate_mac(KeyId=mac_key, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
        grant = c.create_grant(
            KeyId=signer, GranteePrincipal="arn:aws:iam::123456789012:role/cam", Operations=["Sign"]
        )
        grants = c.list_grants(KeyId=signer)["Grants"]
        saved = restarted(snapshot())

    with mock_aws():
        c = kms()
        restore(saved)
        assert {k: c.get_public_key(KeyId=k)["PublicKey"] for k in (signer, rsa)} == public
        assert c.verify(KeyId=signer, Message=b"m", Signature=signature, SigningAlgorithm="ECDSA_SHA_256")[
            "SignatureValid"
        ]
        assert c.verify(
            KeyId=rsa, Message=b"m", Signature=rsa_signature, SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256"
        )["SignatureValid"]
        assert c.verify_mac(KeyId=mac_key, Message=b"m", MacAlgorithm="HMAC_SHA_256", Mac=mac)["MacValid"]
        assert c.list_grants(KeyId=signer)["Grants"] == grants
        c.retire_grant(GrantToken=grant["GrantToken"])
        assert c.list_grants(KeyId=signer)["Grants"] == []


def test_every_account_and_region(monkeypatch):
    with mock_aws():
        here = kms().create_key(Description="here")["KeyMetadata"]
        there = kms("eu-west-1").create_key(Description="there")["KeyMetadata"]
        monkeypatch.setenv("MOTO_ACCOUNT_ID", "111111111111")
        other = kms().create_key(Description="other account")["KeyMetadata"]
        monkeypatch.delenv("MOTO_ACCOUNT_ID")
        saved = restarted(snapshot())

    assert {(k["account"], k["region"], k["id"]) for k in saved["keys"]} == {
        ("123456789012", REGION, here["KeyId"]),
        ("123456789012", "eu-west-1", there["KeyId"]),
        ("111111111111", REGION, other["KeyId"]),
    }
    with mock_aws():
        restore(saved)
        assert metadata(kms(), here["KeyId"])["Arn"] == here["Arn"]
        assert metadata(kms("eu-west-1"), there["KeyId"])["Arn"] == there["Arn"]
        assert [k["KeyId"] for k in kms().list_keys()["Keys"]] == [here["KeyId"]]
        monkeypatch.setenv("MOTO_ACCOUNT_ID", "111111111111")
        assert metadata(kms(), other["KeyId"])["Arn"] == other["Arn"]


def test_multi_region_keys_and_replicas():
    with mock_aws():
        c = kms()
        key_id = c.create_key(MultiRegion=True, Description="mrk")["KeyMetadata"]["KeyId"]
        c.replicate_key(KeyId=key_id, ReplicaRegion="eu-west-1")
        before = {r: metadata(kms(r), key_id) for r in (REGION, "eu-west-1")}
        saved = restarted(snapshot())

    with mock_aws():
        restore(saved)
        assert {r: metadata(kms(r), key_id) for r in (REGION, "eu-west-1")} == before
        assert [before[r]["MultiRegionConfiguration"]["MultiRegionKeyType"] for r in before] == ["PRIMARY", "REPLICA"]


def test_restore_replaces_a_key_with_the_same_id():
    with mock_aws():
        c = kms()
        key_id = c.create_key(Description="saved", Tags=[{"TagKey": "a", "TagValue": "1"}])["KeyMetadata"]["KeyId"]
        c.create_alias(AliasName="alias/saved", TargetKeyId=key_id)
        saved = restarted(snapshot())

        c.update_key_description(KeyId=key_id, Description="changed")
        c.tag_resource(KeyId=key_id, Tags=[{"TagKey": "b", "TagValue": "2"}])
        c.disable_key(KeyId=key_id)
        c.delete_alias(AliasName="alias/saved")
        elsewhere = c.create_key()["KeyMetadata"]["KeyId"]
        c.create_alias(AliasName="alias/saved", TargetKeyId=elsewhere)

        restore(saved)
        assert metadata(c, key_id)["Description"] == "saved"
        assert metadata(c, key_id)["KeyState"] == "Enabled"
        assert c.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "a", "TagValue": "1"}]
        assert metadata(c, "alias/saved")["KeyId"] == key_id
        assert c.list_aliases(KeyId=elsewhere)["Aliases"] == []
        assert len(c.list_keys()["Keys"]) == 2


def test_a_broken_key_does_not_stop_the_others(caplog):
    with mock_aws():
        c = kms()
        good = c.create_key(Description="good")["KeyMetadata"]["KeyId"]
        bad = c.create_key(Description="bad")["KeyMetadata"]["KeyId"]
        sealed = c.encrypt(KeyId=good, Plaintext=b"x")["CiphertextBlob"]
        saved = restarted(snapshot())

    for entry in saved["keys"]:
        if entry["id"] == bad:
            entry["key_material"] = "not base64 !"
    saved["keys"].insert(0, {"id": "no-fields-at-all"})
    with mock_aws():
        c = kms()
        with caplog.at_level(logging.WARNING, logger="kvsmock"):
            restore(saved)
        assert c.decrypt(CiphertextBlob=sealed)["Plaintext"] == b"x"
        assert [k["KeyId"] for k in c.list_keys()["Keys"]] == [good]
    warned = [r.getMessage() for r in caplog.records if r.name == "kvsmock" and r.levelno == logging.WARNING]
    assert any(bad in m for m in warned) and any("no-fields-at-all" in m for m in warned)


@pytest.mark.parametrize("state", [{"version": VERSION + 1, "keys": []}, {"keys": []}, {"version": "1"}])
def test_an_unknown_version_is_refused(state):
    with pytest.raises(ValueError, match="version"):
        restore(state)


def test_an_empty_moto_gives_an_empty_snapshot():
    with mock_aws():
        assert snapshot() == {"version": VERSION, "keys": []}
        restore(snapshot())
        assert kms().list_keys()["Keys"] == []
