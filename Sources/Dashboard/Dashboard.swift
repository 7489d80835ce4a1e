/// Dashboard: pure functions from (snapshot, UI state, size) to a grid of cells. No curses.
public enum DashboardInfo {}
