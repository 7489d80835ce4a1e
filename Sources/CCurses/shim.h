// ncursesw for Swift. SwiftPM drops pkg-config's -D flags, so the wide-character API is enabled here.
#ifndef QVTOP_CCURSES_SHIM_H
#define QVTOP_CCURSES_SHIM_H
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <locale.h>
#include <wchar.h>
#include <ncursesw/curses.h>
#endif
