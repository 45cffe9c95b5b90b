"""The kinesisvideo control plane: its operations, grouped by what they act on.

Each module holds one mixin of :class:`~kvsmock.service.backend.KinesisVideoService`;
its methods are named after the operations (``create_stream`` for CreateStream),
take typed arguments and return model objects (or None). The api layer
(:mod:`kvsmock.api.control_plane`) reads request members and shapes responses.
"""
