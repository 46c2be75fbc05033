"""Claims: what each claim is (:mod:`~rig.claims.specs`, the table), how it is measured from a run
(:mod:`~rig.claims.evidence`, :mod:`~rig.claims.measures`, :mod:`~rig.claims.session`), and how it is judged
(:mod:`~rig.claims.bands`, :mod:`~rig.claims.judging`, :mod:`~rig.claims.verdict`)."""
