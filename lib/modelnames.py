"""What an Ollama model name may look like: checked where a name is typed, not mid-run."""
import re

# An optional host and namespace, the model, an optional tag ("qwen2.5-coder:32b",
# "hf.co/org/repo:Q4_K_M"). Anything else could only fail later, in the middle of a run.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/+-]*(:[A-Za-z0-9._+-]+)?")
MODEL_NAME_HELP = "a model name as Ollama spells it, e.g. qwen2.5-coder:32b (letters, digits, . _ - + /, one :tag)"


def is_model_name(name: str) -> bool:
    return MODEL_NAME.fullmatch(name) is not None
