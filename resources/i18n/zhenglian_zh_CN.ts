<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>AppsView</name>
    <message>
        <source>Address of a government system, e.g. dggjj.dg.gov.cn</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Open</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Not a web address (http or https).</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>ChangePinDialog</name>
    <message>
        <source>Unlock with the SO PIN</source>
        <translation>用管理员 PIN 解锁</translation>
    </message>
    <message>
        <source>Change PIN</source>
        <translation>修改 PIN</translation>
    </message>
    <message>
        <source>SO PIN:</source>
        <translation>管理员 PIN（SO PIN）：</translation>
    </message>
    <message>
        <source>Current PIN:</source>
        <translation>当前 PIN：</translation>
    </message>
    <message>
        <source>New PIN:</source>
        <translation>新 PIN：</translation>
    </message>
    <message>
        <source>New PIN again:</source>
        <translation>再次输入新 PIN：</translation>
    </message>
    <message>
        <source>Caps Lock is on</source>
        <translation>大写锁定已打开</translation>
    </message>
    <message>
        <source>The new PIN needs:</source>
        <translation>新 PIN 须满足：</translation>
    </message>
    <message>
        <source>Unlock</source>
        <translation>解锁</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
</context>
<context>
    <name>DiagnosticsView</name>
    <message>
        <source>What the support desk needs to know. Contains no PIN and no document.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Refresh</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Copy for support</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>DocumentPreview</name>
    <message>
        <source>Fit</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This document cannot be shown (damaged or encrypted).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Page {n} of {total} · {w:.0f} × {h:.0f} mm</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>ExpiredDialog</name>
    <message>
        <source>Certificate expired</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The certificate expired on {date}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The seal bound to it expired with it: documents can no longer be signed with this key. An expired certificate cannot be renewed online; {ca} renews it on paper:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Make the renewal form (PDF)…</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>FinalTryDialog</name>
    <message>
        <source>Last try</source>
        <translation>最后一次机会</translation>
    </message>
    <message>
        <source>Only one try is left.</source>
        <translation>只剩最后一次尝试机会。</translation>
    </message>
    <message>
        <source>SO PIN</source>
        <translation>管理员 PIN</translation>
    </message>
    <message>
        <source>PIN</source>
        <translation>PIN 码</translation>
    </message>
    <message>
        <source>If this %1 is wrong too, the key locks. Only the CA can unlock it, at its counter and with a paper form.</source>
        <translation>如果这次 %1 仍然错误，UKey 将被锁定，只能携纸质申请表到 CA 服务网点解锁。</translation>
    </message>
    <message>
        <source>Make sure you have the right PIN before you go on.</source>
        <translation>请确认 PIN 无误后再继续。</translation>
    </message>
    <message>
        <source>I am sure, enter the PIN</source>
        <translation>我已确认，输入 PIN</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
</context>
<context>
    <name>KeyHeader</name>
    <message>
        <source>Unknown CA</source>
        <translation>未知 CA</translation>
    </message>
    <message>
        <source>Organisation:</source>
        <translation>单位：</translation>
    </message>
    <message>
        <source>Issued by:</source>
        <translation>颁发机构：</translation>
    </message>
    <message>
        <source>Key serial:</source>
        <translation>UKey 序列号：</translation>
    </message>
</context>
<context>
    <name>KeysView</name>
    <message>
        <source>No key plugged in.
Plug in your UKey; it is recognised automatically.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>LifecycleBanner</name>
    <message>
        <source>What to do</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Renew now</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>LifecycleText</name>
    <message>
        <source>Organisation</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>USCC</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Issued by</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Valid until</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Key serial</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Seals</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>LockedDialog</name>
    <message>
        <source>Key locked</source>
        <translation>UKey 已锁定</translation>
    </message>
    <message>
        <source>The SO (administrator) PIN of this key is locked.</source>
        <translation>此 UKey 的管理员 PIN（SO PIN）已锁定。</translation>
    </message>
    <message>
        <source>The PIN of this key is locked after too many wrong entries.</source>
        <translation>此 UKey 的 PIN 因连续输错次数过多已被锁定。</translation>
    </message>
    <message>
        <source>No PIN can be entered, and signing with this key is not possible.</source>
        <translation>现在不能再输入 PIN，也无法用此 UKey 签章。</translation>
    </message>
    <message>
        <source>How to unlock (free of charge, only the CA can do it):</source>
        <translation>解锁办法（免费，只能由 CA 办理）：</translation>
    </message>
    <message>
        <source>Generate unlock application form</source>
        <translation>生成解锁申请表</translation>
    </message>
    <message>
        <source>Close</source>
        <translation>关闭</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>zhenglian</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Keys</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>To sign</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Verify</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Applications</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Diagnostics</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>PinDialog</name>
    <message>
        <source>SO PIN (administrator)</source>
        <translation>管理员 PIN（SO PIN）</translation>
    </message>
    <message>
        <source>Enter PIN</source>
        <translation>输入 PIN</translation>
    </message>
    <message>
        <source>SO PIN:</source>
        <translation>管理员 PIN：</translation>
    </message>
    <message>
        <source>PIN:</source>
        <translation>PIN 码：</translation>
    </message>
    <message>
        <source>Caps Lock is on</source>
        <translation>大写锁定已打开</translation>
    </message>
    <message>
        <source>Keep the PIN for this batch (memory only)</source>
        <translation>本批文件沿用此 PIN（仅存于内存）</translation>
    </message>
    <message>
        <source>The PIN is sent only to the key; it is never saved.</source>
        <translation>PIN 只发送给 UKey，不会被保存。</translation>
    </message>
    <message>
        <source>OK</source>
        <translation>确定</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>The PIN entered last time was wrong.</source>
        <translation>上次输入的 PIN 错误。</translation>
    </message>
</context>
<context>
    <name>PinPadDialog</name>
    <message>
        <source>Enter the PIN on the key</source>
        <translation>请在 UKey 上输入 PIN</translation>
    </message>
    <message>
        <source>Enter the PIN on the key&apos;s own PIN pad and confirm it there.</source>
        <translation>请在 UKey 自带的密码键盘上输入 PIN 并确认。</translation>
    </message>
    <message>
        <source>Waiting for the key… %1 s</source>
        <translation>正在等待 UKey…… %1 秒</translation>
    </message>
</context>
<context>
    <name>PinTexts</name>
    <message>
        <source>The SO PIN is locked.</source>
        <translation>管理员 PIN 已锁定。</translation>
    </message>
    <message>
        <source>The PIN is locked.</source>
        <translation>PIN 已锁定。</translation>
    </message>
    <message>
        <source>Last try: one more wrong PIN locks the key.</source>
        <translation>最后一次机会：再错一次 UKey 将被锁定。</translation>
    </message>
    <message>
        <source>%1 of %2 tries left</source>
        <translation>还可尝试 %1 次（共 %2 次）</translation>
    </message>
    <message>
        <source>About %1 of %2 tries left</source>
        <translation>约还可尝试 %1 次（共 %2 次）</translation>
    </message>
    <message>
        <source>At least %1 characters</source>
        <translation>至少 %1 位</translation>
    </message>
    <message>
        <source>At most %1 characters</source>
        <translation>不超过 %1 位</translation>
    </message>
    <message>
        <source>An upper-case letter</source>
        <translation>含大写字母</translation>
    </message>
    <message>
        <source>A lower-case letter</source>
        <translation>含小写字母</translation>
    </message>
    <message>
        <source>A digit</source>
        <translation>含数字</translation>
    </message>
    <message>
        <source>A special character (such as @#!)</source>
        <translation>含特殊字符（如 @#!）</translation>
    </message>
    <message>
        <source>Only letters, digits and common symbols</source>
        <translation>只含英文字母、数字和常用符号</translation>
    </message>
    <message>
        <source>Not one character repeated</source>
        <translation>不是同一字符重复</translation>
    </message>
    <message>
        <source>Not a simple sequence (like 12345678)</source>
        <translation>不是简单序列（如 12345678）</translation>
    </message>
    <message>
        <source>Not the factory PIN</source>
        <translation>不是出厂初始 PIN</translation>
    </message>
    <message>
        <source>Different from the current PIN</source>
        <translation>与当前 PIN 不同</translation>
    </message>
    <message>
        <source>Both entries of the new PIN match</source>
        <translation>两次输入的新 PIN 一致</translation>
    </message>
</context>
<context>
    <name>ReminderDialog</name>
    <message>
        <source>Certificate expires soon</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The certificate expires in {days} days</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The seal bound to this certificate stops working when the certificate expires, on {date}. While it is valid, the certificate can be renewed online here, with the key plugged in: the new validity runs on from the old expiry. Once it has expired, renewal needs the CA&apos;s paper form and fee.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Renew now</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Remind me later</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Settings</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Signing server</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Start zhenglian when I log in</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Language</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Check for keys every</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Check for new documents every</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Add driver file…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Remove</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Extra PKCS#11 drivers</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Log level</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>A new language applies after restarting zhenglian.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>PKCS#11 driver file</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Driver files (*.dll *.so *.so.* *.dylib);;All files (*)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The signing server must be an http(s) address.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Could not change start-up: {e}</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Tray</name>
    <message>
        <source>Open zhenglian</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Documents to sign ({n})</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Certificate details</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Change PIN</source>
        <translation type="unfinished">修改 PIN</translation>
    </message>
    <message>
        <source>Renew certificate</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Diagnostics</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Settings</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>About</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Quit</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>PIN locked: {who}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Certificate expired: {who}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Certificate expires in {n} days: {who}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Key plugged in but its driver is missing</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>zhenglian</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No key plugged in</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{n} documents to sign</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Key plugged in</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Key removed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Key not recognised</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>TrayApp</name>
    <message>
        <source>zhenglian keeps running</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>zhenglian is still in the tray. Use Quit in its menu to end it.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>About zhenglian</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&lt;b&gt;zhenglian {v}&lt;/b&gt;&lt;br&gt;Open-source e-seal client for SZCA, NETCA and GDCA keys.&lt;br&gt;Licence: Apache-2.0</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>zhenglian</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>view</name>
    <message>
        <source>Unknown CA</source>
        <translation type="unfinished">未知 CA</translation>
    </message>
    <message>
        <source> (demo key)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>expired {n} days ago</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>{n} days left</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Unified social credit code</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Issuer</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Valid</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Key</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Certificate</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>no signing certificate on this key</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>normal</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>a wrong PIN was entered</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>one try left</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>locked</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>must be changed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>PIN</source>
        <translation type="unfinished">PIN 码</translation>
    </message>
    <message>
        <source>Change PIN</source>
        <translation type="unfinished">修改 PIN</translation>
    </message>
    <message>
        <source>Renew</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Seals</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Install the CA&apos;s driver or start its own client, then plug the key in again.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Start {name}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Try again</source>
        <translation type="unfinished"></translation>
    </message>
</context>
</TS>
