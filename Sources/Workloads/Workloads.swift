/// Workloads: the workload engine, the four scheduler models, TOML presets, samplers, headless runs.
public enum WorkloadsInfo {}
