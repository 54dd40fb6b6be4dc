// Place suggestions for the application form: the only script of the console. The form works
// without it; with it, typing part of a place's name or code in a field marked data-places
// offers the matching divisions (code and full name), so a name shared by several places shows
// each. In the zones field only the last zone typed is looked up.
"use strict";
(() => {
  const separators = /[;；,，\s]+/;
  for (const input of document.querySelectorAll("input[data-places]")) {
    const list = document.getElementById(input.getAttribute("list"));
    if (!list) continue;
    let timer = 0;
    let asked = "";
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const value = input.value;
        const parts = value.split(separators);
        const query = (parts[parts.length - 1] || "").trim();
        if (query.length < 1 || query === asked) return;
        asked = query;
        const prefix = value.slice(0, value.length - query.length);
        let places = [];
        try {
          const reply = await fetch("/places?q=" + encodeURIComponent(query), { credentials: "same-origin" });
          if (reply.ok) places = await reply.json();
        } catch (_) {
          return;
        }
        list.replaceChildren(
          ...places.map((place) => {
            const option = document.createElement("option");
            option.value = prefix + place.code;
            option.label = place.name;
            return option;
          }),
        );
      }, 150);
    });
  }
})();
