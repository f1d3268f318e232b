/* Serves the built web UI. Hashed assets (/assets/…) are cached for a year;
 * any other path that is not a file falls back to index.html so the UI's
 * history-mode routes survive a reload. Paths are confined to the root. */
#include "http/internal.h"
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct { const char *ext, *type; } types[] = {
    {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},   {".json", "application/json"},
    {".svg", "image/svg+xml"},             {".png", "image/png"},
    {".ico", "image/x-icon"},              {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"}, {".map", "application/json"},
};

static const char *type_of(const char *p) {
    const char *dot = strrchr(p, '.');
    if (dot)
        for (size_t i = 0; i < sizeof types / sizeof *types; i++)
            if (strcmp(dot, types[i].ext) == 0) return types[i].type;
    return "application/octet-stream";
}

void http_static(req *r, const char *root) {
    if (!root) { reply_error(r, 404, "not_found", NULL, "页面不存在"); return; }
    const char *p = r->path;
    bool bad = strstr(p, "..") || strchr(p, '\\') || p[0] != '/';
    char *full = arena_printf(r->a, "%s%s", root, bad ? "/index.html" : p);
    struct stat st;
    bool asset = strncmp(p, "/assets/", 8) == 0;
    if (bad || stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (asset) { reply_error(r, 404, "not_found", NULL, "文件不存在"); return; }
        full = arena_printf(r->a, "%s/index.html", root);
        if (stat(full, &st) != 0) {
            reply_error(r, 404, "not_found", NULL, "界面尚未构建（请运行 make run）");
            return;
        }
    }
    reply_file(r, full, type_of(full), NULL, false);
    reply_header(r, "Cache-Control", asset ? "public, max-age=31536000, immutable" : "no-cache");
}
