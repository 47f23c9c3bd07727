"""Run-time hook for multiprocessing in the Linux bundle: nothing to do (see ../rthooks.dat).

It stands in for PyInstaller's pyi_rth_multiprocessing, which imports multiprocessing,
multiprocessing.spawn and subprocess at every start (≈ 10 ms before the tray icon) for the
spawn/forkserver start methods; zhenglian starts no multiprocessing process, and Linux forks.
"""
