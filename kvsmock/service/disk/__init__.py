"""The durable store behind ``kvsmock server --data-dir DIR``.

Layout of ``DIR``::

    kvsmock.lock          held (flock) by the server using the directory; holds its pid
    index.sqlite3         SQLite in WAL mode (-wal, -shm beside it): every stream and
                          channel (settings, tags, configurations, versions) as a JSON
                          record, usage counters, the fragment index (numbers,
                          timestamps, producer tags, where the bytes are, their sizes),
                          MKV headers, wrapped data keys, the clock offset and moto's
                          KMS keys
    media/<stream>/<fragment number>.frag
                          one file per persisted fragment: its Cluster sealed under the
                          stream's data key (AES-256-GCM ciphertext and tag), nothing else;
                          <stream> is the first 16 hex digits of the SHA-256 of the ARN

A fragment is durable when its index row is committed. Its file is written
as the fragment arrives (and removed if the upload is cut before it is
complete; its directory is fsynced as soon as it is made); before PutMedia
acknowledges it PERSISTED the file is fsynced, then the row is committed with SQLite's ``synchronous=FULL``
(the WAL is fsynced); fragments stored at the same moment share one commit
(see ``group_commit``). Resource records and expiry are committed with
``synchronous=NORMAL``: they survive the process being killed at once, and a
power cut loses at most the last moments of them. Usage counters ride on the
next commit without their caller waiting: a kill can lose their last
milliseconds.

At start, a file without an index row (an upload cut before it was
acknowledged) is deleted, and an index row whose file is missing or of
another size (a torn or damaged file) is dropped and reported; a file whose
bytes changed (its AES-GCM tag no longer matches) is reported when it is read, and never
served.
"""
