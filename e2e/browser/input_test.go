//go:build !js

package browser

import (
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// sendKeys types into an element ("\n" is Enter).
func sendKeys(sel, text string) chromedp.Action[chromedp.Void] {
	keys := ""
	for _, r := range text {
		if r == '\n' {
			keys += kb.Enter
		} else {
			keys += string(r)
		}
	}
	return chromedp.SendKeys(chromedp.CSS(sel), keys, chromedp.NodeVisible)
}

// pressKey sends a key to the page, as a shortcut (nothing focused that takes text).
func pressKey(key string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`),
		chromedp.KeyEvent(key),
	)
}
