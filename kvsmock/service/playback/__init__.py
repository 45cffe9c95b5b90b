"""HLS and DASH streaming sessions: what a session URL may serve, and when.

GetHLSStreamingSessionURL / GetDASHStreamingSessionURL mint a session: an
opaque token bound to one stream, a playback mode, a fragment selector, the
packaging options and an expiry. Every resource fetched under the session URL
(playlists, manifests, init and media segments) presents the token; the
session decides which fragments the player may see at that moment:

* ``ON_DEMAND`` — fixed when the session is made: the fragments whose start
  timestamp lies in the range, oldest first, up to the maximum;
* ``LIVE`` — a window over the newest fragments; a fragment older than the
  newest one already listed is never added later (gaps are not back-filled);
* ``LIVE_REPLAY`` — starts at the range's start and grows like LIVE, but
  each fragment is added only once the previous one's duration has passed
  on the emulator clock; ends when a closed range has been played out.

Every fragment listed becomes a session entry with a sequence number (the
HLS media sequence, the DASH ``$Number$``), its discontinuity flag and the
init segment it decodes with. Media time: HLS segments carry the producer
timestamps; DASH segments follow a gap-free timeline (the service "adjusts
the DASH timeline to hide gaps"), each segment starting where the previous
one ended.

The service layer knows no HTTP: the api layer turns the tokens of query
strings into :meth:`~.store.SessionStore.get` calls and the session's answers
into playlists and segments.

Modules: :mod:`.options` (the values a request chooses among), :mod:`.codecs`
(which tracks can be played), :mod:`.tokens`, :mod:`.session` (one session),
:mod:`.timeline` (the entries a session lists), :mod:`.creation` (a request
checked and turned into a session), :mod:`.store` (the sessions of a backend),
:mod:`.segment_cache` and :mod:`.timing`.
"""
