"""Generation on a Ray Serve cluster: replicas that each hold an Engine on one GPU, behind the `GenerationBackend`.

config.py   what the replicas load and how many there are (also the arguments of the Serve config file)
wire.py     the plain messages between the bot and a replica (requests by content hash, progress, results, errors)
assets.py   LoRA and reference bytes moved by content hash: put into the object store once, cached per replica
app.py      the Serve deployment: a GenerationService per replica, looks multiplexed by content hash
client.py   RayGenerationBackend: what the bot holds instead of a GenerationService

Importing this package does not import Ray (`pip install 'selfiebot[ray]'`); `config.py` and `wire.py` never do.
"""
