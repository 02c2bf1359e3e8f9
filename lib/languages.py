"""Languages the memory's keyword search (BM25) can stem and drop stop words for.

Plain data, no imports: factory_site/settings.py validates FACTORY_MEMORY_LANGUAGE against it
at start-up. The names are Qdrant's (qdrant-edge `Bm25Config(language=...)`, the same tokenizer
a Qdrant server uses); memory/tests/test_languages.py checks that Qdrant accepts every one.
"""

DEFAULT_LANGUAGE = "english"
BM25_LANGUAGES = (
    "arabic", "azerbaijani", "basque", "bengali", "catalan", "chinese", "danish", "dutch", "english", "finnish",
    "french", "german", "greek", "hebrew", "hinglish", "hungarian", "indonesian", "italian", "japanese", "kazakh",
    "nepali", "norwegian", "portuguese", "romanian", "russian", "slovene", "spanish", "swedish", "tajik", "turkish",
)
