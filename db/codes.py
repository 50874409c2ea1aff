"""The codes of domain.md that every layer names (kept here once, cheap to import)."""

STAGES = ("identified", "in_class", "certified", "dossier", "branch_approved",
          "committee_approved", "admitted", "probationary", "official")

# what closes a file (domain.md section 3)
OUTCOMES = ("withdrawn", "rejected", "moved", "deceased", "struck_off", "decision_cancelled")
