"""Where order versions come from: one folder per platform, each turning its input into versions
that the one landing path (land.intake) lands.

What each platform offers (a pull API, change capture, or neither) is declared in
`ordersync.tenants.platforms`, which a tenant names.
"""
