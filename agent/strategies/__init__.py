"""How models are used: the Ollama client, probing, escalation."""
