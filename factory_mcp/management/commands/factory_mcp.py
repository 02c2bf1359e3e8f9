from django.core.management.base import BaseCommand, CommandError

from factory_mcp.server import ConfigError, FactoryApi, FactoryConfig, build_server


class Command(BaseCommand):
    help = ("Run the factory's MCP server for Claude Code over stdio. It talks to the factory's HTTP API at "
            "FACTORY_URL with FACTORY_TOKEN, so the factory may be on another machine.")
    # stdout is the MCP channel: nothing else may be written there, and no database is needed.
    requires_system_checks = []

    def handle(self, *args, **options) -> None:
        try:
            config = FactoryConfig.from_env()
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        build_server(FactoryApi(config)).run("stdio")
