"""Nano world: hidden-μ point-mass physics (``env``), the diagonal stable SSM (``model``),
its pretraining (``pretrain``), sessions and sweeps."""
