def test_create_and_describe(kv):
    c = kv.kinesisvideo
    arn = c.create_stream(StreamName="s", DataRetentionInHours=1)["StreamARN"]
    info = c.describe_stream(StreamARN=arn)["StreamInfo"]
    assert info["StreamName"] == "s"
    assert info["Status"] == "ACTIVE"
