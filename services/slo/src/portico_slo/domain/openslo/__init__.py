"""OpenSLO v1 (github.com/OpenSLO/OpenSLO): documents checked, read into SLO specs, written back.

`documents` validates parsed YAML documents kind by kind, naming the field
path of every error. `reading` turns SLO documents (with the SLIs,
AlertPolicies and AlertConditions they refer to) into SLO specs; `writing`
turns SLOs back into documents. An imported SLO keeps its original document,
so it exports exactly as it came unless a field was changed since.
"""
