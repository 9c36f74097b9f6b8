"""Meeting notes from a transcript (pure logic: no Airflow, no common-ai, no pydantic-ai at import).

``transcript`` lays a transcript out compactly for a model, ``budget`` splits it under a token budget,
``grounding`` checks what a model answered against the transcript, ``merge`` joins the partial notes of a
long meeting, ``render`` writes them. The model side lives in ``notes.llm``, imported only when a notes
task runs.
"""
