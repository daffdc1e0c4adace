"""The long-running serve process: the web app under uvicorn, its background loops, the local
channel that runs other commands inside it, and the listening sockets.

Light on purpose: the CLI imports `serve.channel` on every command, so this package imports nothing.
"""
