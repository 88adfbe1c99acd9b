"""One package per partner capability: its tools, job kinds, buttons and wording."""
