"""What more than one service thinks with: the attendance rules and records, the employee and
enrolment refusals with their stable codes, the face preview. Pure: no I/O, no framework, and
no import of anything else of ours (an import-linter contract in pyproject.toml holds it)."""
