from django.apps import AppConfig


class FactoryBenchConfig(AppConfig):
    name = "factory_bench"
    verbose_name = "Benchmark harness"
