"""The ground layer: typed errors, where files live, atomic writes, parameter views, per-item losses, threads and
processes, devices, plugins, the paper's seeds and data tasks. Imports nothing else of the package."""
