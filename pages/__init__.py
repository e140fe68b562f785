"""The page scripts, one per page (listed in opslens/app/registry.py); a package so they ship in the wheel."""
