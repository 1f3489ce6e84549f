"""Decides requests with pycasbin from the model and policy `jit policy compile` wrote.

usage: casbin_decide.py MODEL POLICY < requests.tsv
Each input line is `sub<TAB>act<TAB>obj<TAB>sel`; each output line is the rule of the
policy line that allowed it, or `-`.
"""
import sys

import casbin

enforcer = casbin.Enforcer(sys.argv[1], sys.argv[2])
for line in sys.stdin:
    sub, act, obj, sel = line.rstrip("\n").split("\t")
    allowed, explain = enforcer.enforce_ex(sub, act, obj, sel)
    print(explain[4] if allowed and explain else "-")
