"""Everything ``parkbench snapshot`` renders: the headless screens, summary.json, screenshots."""
