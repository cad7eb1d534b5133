// The language switch in the menu bar of every page: English <-> 한국어, to the same page in the
// other edition. scripts/book builds the English edition at the book's root and the Korean one in
// its ko/ folder, with the same file names, so the other edition's page is one folder down or up.
// The link is relative (mdBook's path_to_root), so it works from file:// and under any sub-path.
(function () {
    "use strict";
    var names = { en: "English", ko: "한국어" };
    var lang = document.documentElement.lang === "ko" ? "ko" : "en";
    var other = lang === "ko" ? "en" : "ko";
    var up = typeof path_to_root === "string" ? path_to_root : "";
    // This page's path below its edition's root: "ch01-pid.html", "" for the root itself.
    var root = new URL(up || "./", window.location.href).pathname;
    var here = window.location.pathname;
    var page = here.indexOf(root) === 0 ? here.slice(root.length) : "";
    var link = document.createElement("a");
    link.className = "lang-switch";
    link.href = up + (lang === "ko" ? "../" : "ko/") + (page || "index.html");
    link.hreflang = other;
    link.lang = other;
    link.textContent = names[other];
    link.title = lang === "ko" ? "Read this page in English" : "이 페이지를 한국어로 읽기";
    var buttons = document.querySelector("#mdbook-menu-bar .right-buttons");
    var place = function () {
        buttons.insertBefore(link, buttons.firstChild);
    };
    if (!buttons) {
        // Not a page of the book.
    } else if (/^https?:$/.test(window.location.protocol)) {
        // Served, the switch shows only when the other edition is there: `mdbook serve book`
        // builds the English alone, scripts/book build both.
        fetch(link.href, { method: "HEAD" }).then(function (response) {
            if (response.ok) {
                place();
            }
        }, function () {});
    } else {
        place();
    }
    if (lang === "ko") {
        // The page template's own words are English; the search box is the one a reader types in.
        var search = document.getElementById("mdbook-searchbar");
        if (search) {
            search.placeholder = "이 책에서 찾기…";
        }
        // mdBook builds its search index with English rules, which keep only [a-z0-9_] of each
        // word: the index has no Korean word at all (its copy of each section, for the result's
        // teaser, does). So a search word with a letter outside ASCII is also looked for in that
        // copy, as a substring: 컨테이너 finds 컨테이너는 and 컨테이너를. About 250 sections, at once.
        if (window.elasticlunr && elasticlunr.Index) {
            var englishSearch = elasticlunr.Index.prototype.search;
            var count = function (text, word) {
                var n = 0;
                for (var at = text.indexOf(word); at !== -1; at = text.indexOf(word, at + word.length)) {
                    n += 1;
                }
                return n;
            };
            elasticlunr.Index.prototype.search = function (query, config) {
                var results = englishSearch.call(this, query, config);
                var words = String(query).toLowerCase().split(/\s+/).filter(function (w) {
                    return /[^\x00-\x7f]/.test(w);
                });
                if (words.length === 0) {
                    return results;
                }
                var found = {};
                results.forEach(function (r) { found[r.ref] = r; });
                var docs = this.documentStore.docs;
                Object.keys(docs).forEach(function (ref) {
                    var doc = docs[ref] || {};
                    var title = String(doc.title || "").toLowerCase();
                    var body = String(doc.body || "").toLowerCase();
                    var score = 0;
                    words.forEach(function (w) { score += 3 * count(title, w) + count(body, w); });
                    if (score > 0) {
                        if (found[ref]) {
                            found[ref].score += score;
                        } else {
                            found[ref] = { ref: ref, score: score, doc: doc };
                        }
                    }
                });
                return Object.keys(found).map(function (ref) { return found[ref]; })
                    .sort(function (a, b) { return b.score - a.score; });
            };
            // The index loads on its own: it may have come, and the search in the address
            // (?search=) been done, before this script ran. Then search again, with the Korean
            // look-up; twice, since the search box ignores the same words a second time.
            var bar = document.getElementById("mdbook-searchbar");
            if (window.search && window.search.index && bar && bar.value.trim() !== "") {
                var words = bar.value;
                bar.value = words + " " + words;
                bar.dispatchEvent(new Event("keyup"));
                bar.value = words;
                bar.dispatchEvent(new Event("keyup"));
            }
        }
    }
})();
