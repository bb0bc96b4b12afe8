"""Personas: the simulated people (``base``), their engines (``scripted``, ``llm``,
``replay``) and the one that picks among them (``factory.create_persona``)."""
