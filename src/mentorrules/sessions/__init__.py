"""Sessions: facts streamed one at a time -> findings as soon as they are derivable.

Takes: the compiled policy. Gives: sessions whose findings agree with checking the same rows
in one batch. The correlator (which rows join which) is the python backend or durable-rules in a
supervised worker process (:mod:`backends` chooses).
"""
