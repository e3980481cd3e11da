// A fingerprinted asset: its name changes with its content, so the edge lets browsers cache it for a year.
document.documentElement.dataset.loaded = 'yes';
