// Highlights the current navigation entry.
for (const a of document.querySelectorAll('nav a')) if (a.pathname === location.pathname) a.style.fontWeight = 'bold';
