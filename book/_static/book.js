/* The book's own script (added by book/_ext/book_site.py).
   On a phone a wide figure or table scrolls sideways inside its cell (book.css); a region that
   scrolls gets a tab stop, so a reader without a mouse or touch can reach it and scroll it with the
   arrow keys. Regions that fit the screen get none. */
(function () {
  var scrolling = ".cell_output, .cell_output .output, .cell_output figure, " +
    ".static-explorer .explorer-picture, .bd-article table";

  function tabStopsOnScrollingRegions() {
    document.querySelectorAll(scrolling).forEach(function (region) {
      if (region.scrollWidth > region.clientWidth + 1) {
        region.setAttribute("tabindex", "0");
      } else if (region.getAttribute("tabindex") === "0") {
        region.removeAttribute("tabindex");
      }
    });
  }

  window.addEventListener("load", tabStopsOnScrollingRegions);
  window.addEventListener("resize", tabStopsOnScrollingRegions);
})();
