from django.apps import AppConfig


class FactoryMcpConfig(AppConfig):
    name = "factory_mcp"
    verbose_name = "MCP server for Claude Code"
