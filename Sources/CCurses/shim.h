// ncursesw for Swift. SwiftPM drops pkg-config's -D flags, so the wide-character API is enabled here.
// The inline functions below give Swift what it cannot import: macros built from NCURSES_BITS
// (A_*, mouse masks), function-like macros (KEY_F, getmaxyx), and the global variables (stdscr,
// COLORS, COLOR_PAIRS), read through functions so Swift 6 sees no shared mutable state.
// Only Sources/Terminal imports this module, and only from the UI thread.
#ifndef QVTOP_CCURSES_SHIM_H
#define QVTOP_CCURSES_SHIM_H
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <locale.h>
#include <langinfo.h>
#include <wchar.h>
#include <ncursesw/curses.h>

// Attributes.
static inline attr_t qv_attr_normal(void) { return A_NORMAL; }
static inline attr_t qv_attr_bold(void) { return A_BOLD; }
static inline attr_t qv_attr_dim(void) { return A_DIM; }
static inline attr_t qv_attr_underline(void) { return A_UNDERLINE; }
static inline attr_t qv_attr_reverse(void) { return A_REVERSE; }
static inline attr_t qv_attr_italic(void) { return A_ITALIC; }

// Globals, read on the UI thread only.
static inline WINDOW *qv_stdscr(void) { return stdscr; }
static inline WINDOW *qv_curscr(void) { return curscr; }
static inline int qv_colors(void) { return COLORS; }
static inline int qv_color_pairs(void) { return COLOR_PAIRS; }
static inline int qv_lines(void) { return LINES; }
static inline int qv_cols(void) { return COLS; }

// Opens the terminal on stdin/stdout without exiting on failure (initscr would); NULL on failure.
static inline SCREEN *qv_newterm(void) { return newterm(NULL, stdout, stdin); }

// Keys.
static inline int qv_key_f(int n) { return KEY_F(n); }

// Writes one wide character with attributes and an (extended) color pair at (y, x) of stdscr.
static inline int qv_put_wch(int y, int x, wchar_t ch, attr_t attrs, int pair) {
    cchar_t c;
    wchar_t s[2] = {ch, 0};
    if (setcchar(&c, s, attrs, 0, &pair) != OK) return ERR;
    return mvadd_wch(y, x, &c);
}

// Defines color pair `pair` (extended pairs when the library has them).
static inline int qv_init_pair(int pair, int fg, int bg) {
#if NCURSES_EXT_COLORS
    return init_extended_pair(pair, fg, bg);
#else
    return init_pair((short)pair, (short)fg, (short)bg);
#endif
}

// Mouse: the events qvtop asks for, and a decoder of ncurses' masks.
static inline mmask_t qv_mouse_mask_all(void) { return ALL_MOUSE_EVENTS; }

// Kinds returned by qv_mouse_read: 0 none, 1 press, 2 release, 3 click, 4 double click, 5 wheel up, 6 wheel down.
static inline int qv_mouse_read(int *x, int *y, int *button) {
    MEVENT ev;
    if (getmouse(&ev) != OK) return 0;
    *x = ev.x;
    *y = ev.y;
    mmask_t m = ev.bstate;
    *button = (m & (BUTTON1_PRESSED | BUTTON1_RELEASED | BUTTON1_CLICKED | BUTTON1_DOUBLE_CLICKED)) ? 1
        : (m & (BUTTON2_PRESSED | BUTTON2_RELEASED | BUTTON2_CLICKED | BUTTON2_DOUBLE_CLICKED)) ? 2
        : (m & (BUTTON3_PRESSED | BUTTON3_RELEASED | BUTTON3_CLICKED | BUTTON3_DOUBLE_CLICKED)) ? 3 : 0;
    if (m & BUTTON4_PRESSED) { *button = 0; return 5; }
#ifdef BUTTON5_PRESSED
    if (m & BUTTON5_PRESSED) { *button = 0; return 6; }
#endif
    if (m & (BUTTON1_DOUBLE_CLICKED | BUTTON2_DOUBLE_CLICKED | BUTTON3_DOUBLE_CLICKED)) return 4;
    if (m & (BUTTON1_CLICKED | BUTTON2_CLICKED | BUTTON3_CLICKED)) return 3;
    if (m & (BUTTON1_RELEASED | BUTTON2_RELEASED | BUTTON3_RELEASED)) return 2;
    if (m & (BUTTON1_PRESSED | BUTTON2_PRESSED | BUTTON3_PRESSED)) return 1;
    return 0;
}

// True when the current LC_CTYPE encodes UTF-8.
static inline int qv_locale_is_utf8(void) {
    const char *cs = nl_langinfo(CODESET);
    return cs && (cs[0] == 'U' || cs[0] == 'u') && (cs[1] == 'T' || cs[1] == 't') && (cs[2] == 'F' || cs[2] == 'f');
}
#endif
