"""ShopVerse Platform."""
